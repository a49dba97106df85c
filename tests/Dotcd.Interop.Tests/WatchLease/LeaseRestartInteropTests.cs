using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Dotcd.Interop.Tests.Harness;
using static Dotcd.Interop.Tests.Interop.EtcdctlJson;
using static Dotcd.Interop.Tests.WatchLease.LeaseInteropTests;

namespace Dotcd.Interop.Tests.WatchLease;

/// <summary>Leases across a stop and restart of the member (SIGTERM, same data dir).</summary>
public sealed class LeaseRestartInteropTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task LeasesSurviveARestartWithTheirTtlRenewedAndStillExpire(MemberKind kind)
    {
        const int ShortTtlSeconds = 3;
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        Etcdctl ctl = member.Etcdctl;
        string kept = LeaseId(await ctl.RunOkAsync("lease", "grant", "600"), ttlSeconds: 600);
        string shortLease = LeaseId(await ctl.RunOkAsync("lease", "grant", $"{ShortTtlSeconds}"), ShortTtlSeconds);
        var clock = Stopwatch.StartNew();
        await ctl.RunOkAsync("put", "/kept/1", "a", $"--lease={kept}");  // 2
        await ctl.RunOkAsync("put", "/kept/2", "b", $"--lease={kept}");  // 3
        await ctl.RunOkAsync("put", "/short", "c", $"--lease={shortLease}"); // 4

        // Down for longer than the short lease's TTL: a restart renews every lease's TTL (etcd
        // cannot know how long it was down), so the short lease must not expire on the way up.
        await member.StopAsync();
        TimeSpan downFor = TimeSpan.FromSeconds(ShortTtlSeconds + 1) - clock.Elapsed;
        if (downFor > TimeSpan.Zero)
        {
            await Task.Delay(downFor);
        }

        TimeSpan restartStarted = clock.Elapsed;
        await member.RestartAsync();
        TimeSpan ready = clock.Elapsed;

        // Expiry no earlier than the TTL after the member came back, and no later than the TTL
        // plus the election timeout (1 s: etcd extends leases by it when it becomes leader) plus 1 s.
        LeaseExpiry expiry = await LeaseExpiry.ObserveAsync(member, "/short", keyCount: 1, clock, ready + TimeSpan.FromSeconds(ShortTtlSeconds + 6));
        Assert.True(expiry.LastSeenAliveSent >= ready, "the short lease expired during the restart instead of being renewed");
        expiry.AssertWithin(
            notBefore: restartStarted + TimeSpan.FromSeconds(ShortTtlSeconds),
            notAfter: ready + TimeSpan.FromSeconds(ShortTtlSeconds + 2));
        Assert.Equal(5, await CurrentRevisionAsync(member));

        // "lease 694d7a3f84e7e00b granted with TTL(600s), remaining(600s), attached keys([/kept/1 /kept/2])"
        Match live = TimeToLivePattern().Match(await ctl.RunOkAsync("lease", "timetolive", kept, "--keys"));
        Assert.True(live.Success);
        Assert.Equal((kept, "600"), (live.Groups["id"].Value, live.Groups["granted"].Value));
        Assert.InRange(int.Parse(live.Groups["remaining"].Value, CultureInfo.InvariantCulture), 590, 601);
        Assert.Equal(["/kept/1", "/kept/2"], live.Groups["keys"].Value.Split(' ').Order());
        Assert.Equal(["found 1 leases", kept], LeaseList(await ctl.RunOkAsync("lease", "list")));

        Assert.Equal($"lease {kept} revoked\n", await ctl.RunOkAsync("lease", "revoke", kept));
        Assert.Equal("", await ctl.RunOkAsync("get", "/kept/", "--prefix"));
        Assert.Equal(6, await CurrentRevisionAsync(member));
    }
}
