using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dotcd.Configuration;

namespace Dotcd.Host.Tests;

/// <summary>Skipped, with the reason, when the real etcd 3.4 is not installed.</summary>
public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        if (!File.Exists(RealEtcd.Path))
        {
            Skip = $"the real etcd is not installed at {RealEtcd.Path} (Debian package etcd-server)";
        }
    }
}

/// <summary>Theory form of <see cref="EtcdFactAttribute"/>.</summary>
public sealed class EtcdTheoryAttribute : TheoryAttribute
{
    public EtcdTheoryAttribute()
    {
        if (!File.Exists(RealEtcd.Path))
        {
            Skip = $"the real etcd is not installed at {RealEtcd.Path} (Debian package etcd-server)";
        }
    }
}

/// <summary>Runs the real etcd with arguments that make it stop before it serves.</summary>
internal static class RealEtcd
{
    public const string Path = "/usr/bin/etcd";

    public static (int ExitCode, string StandardOutput, string StandardError) Run(string workingDirectory, IEnumerable<string> args, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("ETCD", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        foreach ((string key, string value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            // A case that did not fail would serve: stop it, and fail the test.
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new InvalidOperationException($"etcd {string.Join(' ', args)} kept running");
        }

        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>The error etcd reported for a configuration it refused, in either of its log formats.</summary>
    public static string RefusalError(string standardError)
    {
        foreach (string line in standardError.Split('\n'))
        {
            if (line.StartsWith('{'))
            {
                JsonElement json = JsonDocument.Parse(line).RootElement;
                if (json.GetProperty("msg").GetString() is "failed to verify flags" or "failed to start etcd")
                {
                    return json.GetProperty("error").GetString()!;
                }

                continue;
            }

            // capnslog, before etcd has its zap logger: "... E | etcdmain: error verifying flags, <error>. See 'etcd --help'."
            Match verify = Regex.Match(line, @"error verifying flags, (.*)\. See 'etcd --help'\.$");
            if (verify.Success)
            {
                return verify.Groups[1].Value;
            }

            Match fatal = Regex.Match(line, @" C \| pkg/flags: (.*)$");
            if (fatal.Success)
            {
                return fatal.Groups[1].Value;
            }
        }

        throw new InvalidOperationException("etcd reported no refusal: " + standardError);
    }
}

public sealed partial class DifferentialTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [EtcdFact]
    public void EveryFlagInEtcdsHelpIsInOurTable()
    {
        (int exit, string flags, _) = RealEtcd.Run(_dir.Path, ["--help"]);

        Assert.Equal(0, exit);
        string[] listed = [.. FlagLine().Matches(flags).Select(m => m.Groups[1].Value)];
        Assert.True(listed.Length >= 70, $"etcd --help listed only {listed.Length} flags");
        string[] unknown = [.. listed.Where(name => !EtcdFlags.ByName.ContainsKey(name))];
        Assert.Empty(unknown);
    }

    [EtcdFact]
    public void OurHelpIsEtcdsApartFromTheDataDirLoggerAndNotYetNotes()
    {
        (_, string theirs, _) = RealEtcd.Run(_dir.Path, ["--help"]);
        string ours = HostRun.Of(["--help"]).StandardOutput;

        static string Normalize(string help) => LoggerEntry().Replace(help, "")
            .Replace(HelpText.NotYetNote + "\n", "")
            .Replace("'${name}.dotcd'", "'${name}.etcd'");

        Assert.Equal(Normalize(theirs), Normalize(ours));
    }

    public static TheoryData<string[]> UsageErrors => new()
    {
        new[] { "--foo" },
        new[] { "-foo=1" },
        new[] { "--name" },
        new[] { "---name", "x" },
        new[] { "-=x" },
        new[] { "--heartbeat-interval", "abc" },
        new[] { "--heartbeat-interval", "-1" },
        new[] { "--snapshot-count", "99999999999999999999999" },
        new[] { "--quota-backend-bytes", "1.5" },
        new[] { "--initial-cluster-state", "bogus" },
        new[] { "--discovery-fallback", "maybe" },
        new[] { "--max-concurrent-streams", "-1" },
        new[] { "--max-concurrent-streams", "5000000000" },
        new[] { "--grpc-keepalive-timeout", "5" },
        new[] { "--version=maybe" },
        new[] { "--client-cert-auth=2" },
        new[] { "--listen-client-urls", "foo" },
        new[] { "--listen-client-urls", "127.0.0.1:2379" },
        new[] { "--listen-client-urls", "http://localhost" },
        new[] { "--listen-client-urls", "http://a:b" },
        new[] { "--listen-peer-urls", "HTTP://127.0.0.1:2379/" },
        new[] { "--advertise-client-urls", "ftp://x:1" },
        new[] { "--cors", "nope" },
    };

    [EtcdTheory]
    [MemberData(nameof(UsageErrors))]
    public void FlagSyntaxErrorsMatchEtcdsMessageAndExitCode(string[] args)
    {
        (int exit, _, string error) = RealEtcd.Run(_dir.Path, args);
        HostRun ours = HostRun.Of(args);

        Assert.Equal(exit, ours.ExitCode);
        Assert.Equal(error.Split('\n')[0], ours.StandardError.Split('\n')[0]);
    }

    public static TheoryData<string[], Dictionary<string, string>> Refusals => new()
    {
        { ["--election-timeout", "400"], [] },
        { ["--election-timeout", "60000"], [] },
        { ["--heartbeat-interval", "0"], [] },
        { ["--election-timeout", "0"], [] },
        { ["--heartbeat-interval", "300", "--election-timeout", "1000"], [] },
        { ["--listen-client-urls", "http://127.0.0.1:2379"], [] },
        { ["--listen-client-urls", "http://example.com:1", "--advertise-client-urls", "http://x:1"], [] },
        { ["--listen-peer-urls", "http://10.0.0.256:1"], [] },
        { ["--advertise-client-urls", "http://:2379"], [] },
        { ["--initial-advertise-peer-urls", "http://:2380"], [] },
        { ["--auto-compaction-mode", "foo"], [] },
        { ["--logger", "bogus"], [] },
        { ["--log-outputs", "stdout,default"], [] },
        { ["--initial-cluster", "foo"], [] },
        { ["--initial-cluster", "other=http://localhost:2380"], [] },
        { ["--auto-compaction-retention", "abc"], [] },
        { ["--auto-compaction-retention", "-5"], [] },
        { ["extra"], [] },
        { ["--client-cert-auth", "false"], [] },
        { ["--name", ""], [] },
        { [], new() { ["ETCD_HEARTBEAT_INTERVAL"] = "abc" } },
        { [], new() { ["ETCD_INITIAL_CLUSTER_STATE"] = "bogus" } },
        { [], new() { ["ETCD_ELECTION_TIMEOUT"] = "2" } },
        { [], new() { ["ETCD_LISTEN_CLIENT_URLS"] = "http://127.0.0.1:2379" } },
        { ["--name", "y"], new() { ["ETCD_NAME"] = "x" } },
        { ["--election-timeout=2"], new() { ["ETCD_ELECTION_TIMEOUT"] = "" } },
    };

    [EtcdTheory]
    [MemberData(nameof(Refusals))]
    public void RefusedConfigurationsMatchEtcdsErrorAndExitCode(string[] args, Dictionary<string, string> environment)
    {
        string[] full = ["--logger", "zap", "--data-dir", Path.Combine(_dir.Path, "data"), .. args];
        (int exit, _, string error) = RealEtcd.Run(_dir.Path, full, environment);
        HostRun ours = HostRun.Of(full, environment);

        Assert.Equal(1, exit);
        Assert.Equal(exit, ours.ExitCode);
        string ourError = ours.LogLines.Any(l => l.GetProperty("level").GetString() == "fatal")
            ? ours.LogLines.Single(l => l.GetProperty("level").GetString() == "fatal").GetProperty("msg").GetString()!
            : ours.VerifyError;
        Assert.Equal(RealEtcd.RefusalError(error), ourError);
    }

    public static TheoryData<string> ConfigFileRefusals => new()
    {
        "heartbeat-interval: abc\n",
        "heartbeat-interval: \"100\"\n",
        "heartbeat-interval: -5\n",
        "experimental-enable-lease-checkpoint: maybe\n",
        "log-outputs: stderr\n",
        "name: [a, b]\n",
        "initial-cluster-state: bogus\n",
        "election-timeout: 3\n",
        "election-timeout: 3\nelection-timeout: 2\n",
        "experimental-watch-progress-notify-interval: 10m0s0\n",
        "client-transport-security: 5\n",
    };

    [EtcdTheory]
    [MemberData(nameof(ConfigFileRefusals))]
    public void RefusedConfigFilesMatchEtcdsError(string yaml)
    {
        string path = _dir.File("etcd.yaml", "logger: zap\ndata-dir: " + Path.Combine(_dir.Path, "data") + "\n" + yaml);
        (int exit, _, string error) = RealEtcd.Run(_dir.Path, ["--config-file", path]);
        HostRun ours = HostRun.Of(["--config-file", path]);

        Assert.Equal(1, exit);
        Assert.Equal(exit, ours.ExitCode);
        Assert.Equal(RealEtcd.RefusalError(error), ours.VerifyError);
    }

    [EtcdFact]
    public void AMissingConfigFileMatchesEtcdsError()
    {
        string missing = Path.Combine(_dir.Path, "missing.yaml");
        (int exit, _, string error) = RealEtcd.Run(_dir.Path, ["--config-file", missing]);
        HostRun ours = HostRun.Of(["--config-file", missing]);

        Assert.Equal(exit, ours.ExitCode);
        Assert.Equal(RealEtcd.RefusalError(error), ours.VerifyError);
    }

    [EtcdFact]
    public void LogLinesHaveEtcdsKeysOrderAndTimestampLayout()
    {
        (_, _, string error) = RealEtcd.Run(_dir.Path, ["--logger", "zap", "--election-timeout", "1"]);
        HostRun ours = HostRun.Of(["--election-timeout", "1"], time: TimeProvider.System);

        string theirs = error.Split('\n').First(l => l.StartsWith('{'));
        string mine = ours.StandardError.Split('\n').First(l => l.StartsWith('{'));
        Assert.Equal(Keys(theirs), Keys(mine));
        string stamp = JsonDocument.Parse(theirs).RootElement.GetProperty("ts").GetString()!;
        string ourStamp = JsonDocument.Parse(mine).RootElement.GetProperty("ts").GetString()!;
        Assert.Matches(TimestampLayout(), stamp);
        Assert.Matches(TimestampLayout(), ourStamp);
        Assert.Equal(stamp[^1] == 'Z', ourStamp[^1] == 'Z');
        Assert.Matches(@"^[A-Za-z.]+/[A-Za-z]+\.(go|cs):\d+$", JsonDocument.Parse(mine).RootElement.GetProperty("caller").GetString()!);
    }

    private static string[] Keys(string line) => [.. JsonDocument.Parse(line).RootElement.EnumerateObject().Select(p => p.Name)];

    [GeneratedRegex(@"^  --([a-z0-9.-]+) ", RegexOptions.Multiline)]
    private static partial Regex FlagLine();

    [GeneratedRegex(@"  --logger '[a-z]+'\n    [^\n]*\n")]
    private static partial Regex LoggerEntry();

    [GeneratedRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d{4})$")]
    private static partial Regex TimestampLayout();
}
