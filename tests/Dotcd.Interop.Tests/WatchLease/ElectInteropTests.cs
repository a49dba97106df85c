using Dotcd.Interop.Tests.Harness;
using static Dotcd.Interop.Tests.WatchLease.LockInteropTests;

namespace Dotcd.Interop.Tests.WatchLease;

/// <summary>
/// `etcdctl elect`: campaigners queue on keys under the election name (session leases), the
/// oldest leads, `elect -l` observes each leader as it takes over.
/// </summary>
public sealed class ElectInteropTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task TheLeaderChangesWhenTheCampaignerExitsAndObserversSeeEveryLeader(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);

        await using EtcdctlProcess observer = EtcdctlProcess.Start(member, "elect", "-l", "/elect/x");
        await using EtcdctlProcess first = EtcdctlProcess.Start(member, "elect", "/elect/x", "p1");
        string firstKey = await HeldKeyAsync(first, "/elect/x");
        Assert.Equal($"{firstKey}\np1\n", first.Stdout);
        await observer.WaitForStdoutAsync($"{firstKey}\np1\n");

        await using EtcdctlProcess second = EtcdctlProcess.Start(member, "elect", "/elect/x", "p2");
        string secondKey = (await ContenderKeysAsync(member, "/elect/x/", count: 2))[1];
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal("", second.Stdout); // Queued behind the leader.

        EtcdctlResult resigned = await first.StopAsync();
        Assert.Equal((0, ""), (resigned.ExitCode, resigned.Stderr));
        Assert.Equal(secondKey, await HeldKeyAsync(second, "/elect/x"));
        Assert.Equal($"{secondKey}\np2\n", second.Stdout);
        await observer.WaitForStdoutAsync($"{secondKey}\np2\n");

        // An observer that starts now sees the current leader at once.
        await using EtcdctlProcess late = EtcdctlProcess.Start(member, "elect", "-l", "/elect/x");
        await late.WaitForStdoutAsync($"{secondKey}\np2\n");

        // Observers stop first: one interrupted while it looks up the next leader (after the
        // resign below) logs the canceled read, which is etcdctl's timing, not the server's.
        EtcdctlResult observed = await observer.StopAsync();
        Assert.Equal((0, $"{firstKey}\np1\n{secondKey}\np2\n", ""), (observed.ExitCode, observed.Stdout, observed.Stderr));
        Assert.Equal($"{secondKey}\np2\n", (await late.StopAsync()).Stdout);
        Assert.Equal(0, (await second.StopAsync()).ExitCode);
        Assert.Equal("", await member.Etcdctl.RunOkAsync("get", "/elect/x/", "--prefix"));
    }
}
