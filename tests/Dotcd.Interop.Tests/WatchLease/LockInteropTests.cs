using System.Text.Json.Nodes;
using Dotcd.Interop.Tests.Harness;
using static Dotcd.Interop.Tests.Interop.EtcdctlJson;

namespace Dotcd.Interop.Tests.WatchLease;

/// <summary>
/// `etcdctl lock`: a session lease, a key under the lock name created in a txn, and a watch
/// for the deletion of the key just before it. Only what the user sees is asserted: who holds
/// the lock, who waits, and that exiting releases it.
/// </summary>
public sealed class LockInteropTests
{
    private static readonly TimeSpan s_stillWaiting = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task ASecondContenderWaitsUntilTheHolderExitsThenHoldsTheLock(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;

        await using EtcdctlProcess first = EtcdctlProcess.Start(member, "lock", "/locks/a");
        string firstKey = await HeldKeyAsync(first, "/locks/a");
        await using EtcdctlProcess second = EtcdctlProcess.Start(member, "lock", "/locks/a");
        string[] contenders = await ContenderKeysAsync(member, "/locks/a/", count: 2);
        Assert.Equal(firstKey, contenders[0]); // The oldest key holds the lock.
        string secondKey = contenders[1];
        await Task.Delay(s_stillWaiting);
        Assert.Equal("", second.Stdout);

        EtcdctlResult released = await first.StopAsync();
        Assert.Equal((0, $"{firstKey}\n\n", ""), (released.ExitCode, released.Stdout, released.Stderr));
        Assert.Equal(secondKey, await HeldKeyAsync(second, "/locks/a"));
        Assert.Equal([secondKey], await ContenderKeysAsync(member, "/locks/a/", count: 1));

        Assert.Equal(0, (await second.StopAsync()).ExitCode);
        Assert.Equal("", await ctl.RunOkAsync("get", "/locks/a/", "--prefix"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task LockWithACommandRunsItWhileHoldingTheLockThenReleasesIt(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        await using EtcdctlProcess holder = EtcdctlProcess.Start(member, "lock", "/locks/b");
        await HeldKeyAsync(holder, "/locks/b");

        // The command prints the lock etcdctl hands it and the lock keys it can see while it runs.
        await using EtcdctlProcess runner = EtcdctlProcess.Start(
            member, "lock", "/locks/b", "--", "sh", "-c",
            $"echo \"held $ETCD_LOCK_KEY at $ETCD_LOCK_REV\"; {Etcdctl.EtcdctlPath} --endpoints={member.Endpoint} get /locks/b/ --prefix --keys-only");
        string runnerKey = (await ContenderKeysAsync(member, "/locks/b/", count: 2))[1];
        await Task.Delay(s_stillWaiting);
        Assert.False(runner.HasExited, $"the command ran while another held the lock: {runner}");

        await holder.StopAsync();
        EtcdctlResult ran = await runner.WaitForExitAsync();
        Assert.Equal(0, ran.ExitCode);
        string[] lines = ran.Stdout.Split('\n');
        Assert.StartsWith($"held {runnerKey} at ", lines[0]);
        Assert.Equal([runnerKey, "", ""], lines[1..]); // Its key is the only one left: it held the lock alone.
        long lockRevision = long.Parse(lines[0][$"held {runnerKey} at ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(lockRevision > 0);
        Assert.Equal("", await ctl.RunOkAsync("get", "/locks/b/", "--prefix"));

        // A failing command fails etcdctl, and the lock is released all the same.
        EtcdctlResult failed = await ctl.RunAsync("lock", "/locks/b", "--", "sh", "-c", "exit 3");
        Assert.Equal((1, "Error: exit status 3\n"), (failed.ExitCode, failed.Stderr));
        Assert.Equal("", await ctl.RunOkAsync("get", "/locks/b/", "--prefix"));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task AHolderThatDiesLosesTheLockWhenItsSessionLeaseExpires(MemberKind kind)
    {
        const int TtlSeconds = 2; // The minimum; etcdctl renews the session every TTL/3.
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        await using EtcdctlProcess holder = EtcdctlProcess.Start(member, "lock", $"--ttl={TtlSeconds}", "/locks/c");
        string holderKey = await HeldKeyAsync(holder, "/locks/c");
        await using EtcdctlProcess waiter = EtcdctlProcess.Start(member, "lock", "/locks/c");
        string waiterKey = (await ContenderKeysAsync(member, "/locks/c/", count: 2))[1];

        // SIGKILL: no unlock, no revoke; only the lease's expiry frees the lock. The lease had
        // at least TTL - TTL/3 left when the renewals stopped, and goes within TTL + 1 s.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await holder.KillAsync();
        Assert.Equal(waiterKey, await HeldKeyAsync(waiter, "/locks/c"));
        TimeSpan acquiredAfter = clock.Elapsed;
        Assert.InRange(acquiredAfter, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(TtlSeconds + 1.5));
        Assert.Equal([waiterKey], await ContenderKeysAsync(member, "/locks/c/", count: 1));
        Assert.NotEqual(holderKey, waiterKey);
        Assert.Equal(0, (await waiter.StopAsync()).ExitCode);
    }

    /// <summary>What `lock` or `elect` prints once it holds: the key (then its value, empty for a lock).</summary>
    internal static async Task<string> HeldKeyAsync(EtcdctlProcess process, string name)
    {
        await process.WaitForStdoutAsync(s => s.Split('\n').Length >= 3, "the held key and its value");
        string key = process.Stdout.Split('\n')[0];
        Assert.StartsWith(name + "/", key);
        return key;
    }

    /// <summary>The keys under a lock or election, oldest first, once there are <paramref name="count"/>.</summary>
    internal static async Task<string[]> ContenderKeysAsync(MemberProcess member, string prefix, int count)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            JsonNode keys = Parse(await member.Etcdctl.RunOkAsync("get", prefix, "--prefix", "--keys-only", "--sort-by=CREATE", "-w", "json"));
            if (Kvs(keys).Count == count)
            {
                // Every contender's key lives on its session's lease.
                Assert.All(Kvs(keys), kv => Assert.NotEqual(0, Number(kv!, "lease")));
                return Keys(keys);
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"expected {count} keys under {prefix}, have {Kvs(keys).Count}");
            await Task.Delay(100);
        }
    }
}
