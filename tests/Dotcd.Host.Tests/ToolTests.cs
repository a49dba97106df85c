using Dotcd.Ctl;
using Dotcd.Utl;

namespace Dotcd.Host.Tests;

public sealed class ToolTests
{
    private static (int Exit, string Output, string Error) Ctl(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = CtlMain.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static (int Exit, string Output, string Error) Utl(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = UtlMain.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--version")]
    [InlineData("version")]
    public void DotcdctlPrintsItsVersionAsEtcdctlDoes(string arg)
    {
        (int exit, string output, string error) = Ctl(arg);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Matches(@"^dotcdctl version: \d+\.\d+\.\d+\nAPI version: 3\.6\n$", output);
    }

    [Theory]
    [InlineData()]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public void DotcdctlHelpUsesEtcdctlsLayout(params string[] args)
    {
        (int exit, string output, _) = Ctl(args);

        Assert.Equal(0, exit);
        Assert.StartsWith("NAME:\n\tdotcdctl - ", output);
        Assert.Contains("\nCOMMANDS:\n", output);
        Assert.Contains("\tmember list\t\tLists all members in the cluster\n", output);
        Assert.Contains("\nOPTIONS:\n", output);
        Assert.Contains("--endpoints=[127.0.0.1:2379]", output);
    }

    [Theory]
    [InlineData(new[] { "get", "foo" }, "get")]
    [InlineData(new[] { "--endpoints", "127.0.0.1:2379", "put", "k", "v" }, "put")]
    [InlineData(new[] { "-w", "json", "member", "list" }, "member list")]
    [InlineData(new[] { "--write-out=table", "endpoint", "status", "--cluster" }, "endpoint status")]
    [InlineData(new[] { "snapshot", "save", "/tmp/x.db" }, "snapshot save")]
    public void EveryDotcdctlCommandSaysItIsNotBuiltYet(string[] args, string command)
    {
        (int exit, string output, string error) = Ctl(args);

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"dotcdctl: command \"{command}\" is not built yet: see issue #2\n", error);
    }

    [Fact]
    public void AnUnknownDotcdctlCommandGetsEtcdctlsError()
    {
        (int exit, _, string error) = Ctl("frobnicate");

        Assert.Equal(1, exit);
        Assert.Equal("Error: unknown command \"frobnicate\" for \"dotcdctl\"\nRun 'dotcdctl --help' for usage.\n", error);
    }

    [Fact]
    public void DotcdutlHasVersionHelpAndRefusesCommands()
    {
        Assert.Matches(@"^dotcdutl version: \d+\.\d+\.\d+\nAPI version: 3\.6\n$", Utl("--version").Output);
        Assert.Contains("\tsnapshot restore\t\t", Utl("--help").Output);
        (int exit, _, string error) = Utl("snapshot", "status", "x.db");
        Assert.Equal(1, exit);
        Assert.Equal("dotcdutl: command \"snapshot status\" is not built yet: see issue #2\n", error);
        Assert.Equal(1, Utl("put", "k").Exit);
    }
}
