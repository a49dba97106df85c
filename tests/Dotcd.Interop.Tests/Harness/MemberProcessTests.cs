using static Dotcd.Interop.Tests.Interop.EtcdctlJson;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>The process fixture itself: start, stop, restart, failure reports and cleanup.</summary>
public sealed class MemberProcessTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task StopThenRestartKeepsTheDataAndTheRevision(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        await member.Etcdctl.RunOkAsync("put", "/kept", "v");
        long revision = await CurrentRevisionAsync(member);

        await member.StopAsync();
        Assert.False(member.IsRunning);
        Assert.NotEqual(0, (await member.Etcdctl.RunAsync(["get", "/kept", "--dial-timeout=1s", "--command-timeout=1s"])).ExitCode);

        int port = member.ClientPort;
        await member.RestartAsync();
        Assert.True(member.IsRunning);
        Assert.Equal(port, member.ClientPort);
        Assert.Equal("/kept\nv\n", await member.Etcdctl.RunOkAsync("get", "/kept"));
        Assert.Equal(revision + 1, Revision(Parse(await member.Etcdctl.RunOkAsync("put", "/next", "v", "-w", "json"))));
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task AMemberThatCannotStartReportsItsOutput(MemberKind kind)
    {
        MemberStartException failure = await Assert.ThrowsAsync<MemberStartException>(
            () => MemberProcess.StartAsync(kind, new MemberOptions { ExtraFlags = ["--no-such-flag-anywhere"] }));

        Assert.Contains("exited with code", failure.Message);
        Assert.Contains("no-such-flag-anywhere", failure.Message);
    }

    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public async Task DisposeKillsTheMemberAndRemovesItsFiles(MemberKind kind)
    {
        MemberProcess member = await MemberProcess.StartAsync(kind);
        string root = member.RootDir;
        Assert.True(Directory.Exists(member.DataDir));

        member.Dispose();

        Assert.False(member.IsRunning);
        Assert.False(Directory.Exists(root));
        var ctl = new Etcdctl(() => member.Endpoint, Path.GetTempPath()); // The member's work dir is gone.
        EtcdctlResult gone = await ctl.RunAsync(["endpoint", "health", "--dial-timeout=1s", "--command-timeout=1s"]);
        Assert.NotEqual(0, gone.ExitCode);
    }
}
