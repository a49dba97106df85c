using System.Text.Json;
using System.Text.RegularExpressions;
using Dotcd.Configuration;

namespace Dotcd.Host.Tests;

public sealed partial class HostTests
{
    [Fact]
    public void VersionPrintsEtcdsLayoutWithTheCompatibleEtcdVersion()
    {
        HostRun run = HostRun.Of(["--version"]);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.StandardError);
        string[] lines = run.StandardOutput.TrimEnd('\n').Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.Matches(@"^dotcd Version: \d+\.\d+\.\d+", lines[0]);
        Assert.Equal("etcd Version: 3.6.0", lines[1]);
        Assert.Matches(@"^Git SHA: ([0-9a-f]{7,}|Not provided)$", lines[2]);
        Assert.Equal($".NET Version: {Environment.Version}", lines[3]);
        Assert.Matches(@"^\.NET OS/Arch: [a-z]+/[a-z0-9]+$", lines[4]);
    }

    [Fact]
    public void VersionWinsOverOtherFlagsButNotOverSyntaxErrors()
    {
        Assert.Equal(0, HostRun.Of(["--discovery=x", "-version"]).ExitCode);
        Assert.Equal(2, HostRun.Of(["--version", "--nope"]).ExitCode);
    }

    [Theory]
    [InlineData("-h")]
    [InlineData("--help")]
    [InlineData("-help")]
    public void HelpPrintsUsageToStderrAndFlagsToStdout(string flag)
    {
        HostRun run = HostRun.Of([flag]);

        Assert.Equal(0, run.ExitCode);
        Assert.StartsWith("Usage:\n\n  dotcd [flags]\n    Start a dotcd server.\n", run.StandardError);
        Assert.StartsWith("\nMember:\n  --name 'default'\n    Human-readable name for this member.\n  --data-dir '${name}.dotcd'\n", run.StandardOutput);
        Assert.Contains("\n  --discovery ''\n    Discovery URL used to bootstrap the cluster.\n    (not supported by dotcd yet)\n", run.StandardOutput);
        Assert.Contains("\nLogging:\n  --logger 'zap'\n", run.StandardOutput);
        Assert.EndsWith("TO BE DEPRECATED:\n\n  --debug 'false'\n    Enable debug-level logging for etcd. [WARN] Will be deprecated in v3.5. Use '--log-level=debug' instead.\n    (not supported by dotcd yet)\n  --log-package-levels ''\n    Specify a particular log level for each etcd package (eg: 'etcdmain=CRITICAL,etcdserver=DEBUG').\n    (not supported by dotcd yet)\n\n", run.StandardOutput);
    }

    [Fact]
    public void HelpListsEveryVisibleFlagOnceAndNoHiddenOne()
    {
        string flags = HostRun.Of(["--help"]).StandardOutput;
        string[] listed = [.. FlagLine().Matches(flags).Select(m => m.Groups[1].Value)];

        Assert.Equal(listed.Distinct(), listed);
        Assert.Equal(EtcdFlags.All.Where(f => !f.Hidden).Select(f => f.Name).Order(), listed.Order());
    }

    [Fact]
    public void ARunLogsEtcdsFirstMilestonesAsJsonBeforeItServes()
    {
        // The in-process Run is asked to stop before it starts serving: it checks the
        // configuration, logs etcd's first lines and exits cleanly.
        HostRun run = HostRun.Of(["--name", "infra1", "--snapshot-count=7"]);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.StandardOutput);
        Assert.All(run.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.StartsWith("{", line));
        Assert.EndsWith("}\n", run.StandardError);
        IReadOnlyList<JsonElement> lines = run.LogLines;
        Assert.Equal(
            ["'data-dir' was empty; using default", "Running: ", "dotcd Version", "server configuration"],
            lines.Select(l => l.GetProperty("msg").GetString()));
        Assert.All(lines.Skip(1), l => Assert.Equal("info", l.GetProperty("level").GetString()));
        Assert.Equal(["dotcd", "--name", "infra1", "--snapshot-count=7"], run.LogLine("Running: ").GetProperty("args").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("3.6.0", run.LogLine("dotcd Version").GetProperty("etcd-version").GetString());
        JsonElement settings = run.LogLine("server configuration");
        Assert.Equal("infra1", settings.GetProperty("name").GetString());
        Assert.Equal("infra1.dotcd", settings.GetProperty("data-dir").GetString());
        Assert.Equal("100ms", settings.GetProperty("heartbeat-interval").GetString());
        Assert.Equal("1s", settings.GetProperty("election-timeout").GetString());
        Assert.Equal(7, settings.GetProperty("snapshot-count").GetInt64());
        Assert.Equal("infra1=http://localhost:2380", settings.GetProperty("initial-cluster").GetString());
        Assert.Equal(2147483648, settings.GetProperty("quota-backend-bytes").GetInt64());
        Assert.Equal(["http://localhost:2379"], settings.GetProperty("listen-client-urls").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void LogLevelFiltersTheMilestones()
    {
        HostRun info = HostRun.Of(["--log-level", "info", "--data-dir", "/tmp/x"]);
        HostRun warn = HostRun.Of(["--log-level", "warn", "--data-dir", "/tmp/x"]);

        // At info the three milestones are logged; at warn none of them is, and nothing else is written.
        Assert.Equal(["Running: ", "dotcd Version", "server configuration"], info.LogLines.Select(l => l.GetProperty("msg").GetString()));
        Assert.Equal(0, warn.ExitCode);
        Assert.Equal("", warn.StandardOutput);
        Assert.Equal("", warn.StandardError);
    }

    [Fact]
    public void LogOutputsSendTheLinesToAFile()
    {
        using var dir = new TempDir();
        string file = Path.Combine(dir.Path, "dotcd.log");

        HostRun run = HostRun.Of(["--log-outputs", file, "--data-dir", dir.Path]);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.StandardOutput);
        Assert.Equal("", run.StandardError);
        string[] lines = File.ReadAllLines(file);
        Assert.Equal(
            ["Running: ", "dotcd Version", "server configuration"],
            lines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("msg").GetString()));
    }

    [Fact]
    public void AnUnopenableLogFileIsRefusedWithEtcdsOpenSinkError()
    {
        HostRun run = HostRun.Of(["--log-outputs", "/nonexistent-dir/dotcd.log"]);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("open sink \"/nonexistent-dir/dotcd.log\": ", run.VerifyError);
    }

    [GeneratedRegex(@"^  --([a-z0-9.-]+) ", RegexOptions.Multiline)]
    private static partial Regex FlagLine();
}
