using System.Collections.Immutable;
using Dotcd.Configuration;
using Dotcd.Logging;

namespace Dotcd.Host.Tests;

public sealed class FlagTests
{
    [Fact]
    public void DefaultsAreEtcdsExceptTheDataDirectory()
    {
        MemberConfig config = Load.Config();

        Assert.Equal("default", config.Name);
        Assert.Equal("default.dotcd", config.DataDir);
        Assert.Equal("", config.WalDir);
        Assert.Equal(100_000, config.SnapshotCount);
        Assert.Equal(TimeSpan.FromMilliseconds(100), config.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(1000), config.ElectionTimeout);
        Assert.Equal(10, config.ElectionTicks);
        Assert.Equal("http://localhost:2379", Load.Urls(config.ListenClientUrls));
        Assert.Equal("http://localhost:2379", Load.Urls(config.AdvertiseClientUrls));
        Assert.Equal("http://localhost:2380", Load.Urls(config.ListenPeerUrls));
        Assert.Equal("http://localhost:2380", Load.Urls(config.InitialAdvertisePeerUrls));
        Assert.Equal("default=http://localhost:2380", config.InitialCluster);
        Assert.Equal("http://localhost:2380", Load.Urls(Assert.Single(config.InitialClusterMembers, m => m.Key == "default").Value));
        Assert.Equal(InitialClusterState.New, config.InitialClusterState);
        Assert.Equal("etcd-cluster", config.InitialClusterToken);
        Assert.Equal(0, config.QuotaBackendBytes);
        Assert.Equal(2L * 1024 * 1024 * 1024, config.EffectiveQuotaBackendBytes);
        Assert.Equal(1_572_864, config.MaxRequestBytes);
        Assert.Equal(128, config.MaxTxnOps);
        Assert.Equal(AutoCompactionMode.Periodic, config.AutoCompactionMode);
        Assert.Equal("0", config.AutoCompactionRetention);
        Assert.Equal(TimeSpan.Zero, config.AutoCompactionRetentionPeriod);
        Assert.Equal("zap", config.Logger);
        Assert.Equal(LogLevel.Info, config.LogLevel);
        Assert.Equal("default", Assert.Single(config.LogOutputs));
        Assert.Equal(TransportSecurity.None, config.ClientTransportSecurity);
        Assert.Equal(TimeSpan.FromMinutes(10), config.WatchProgressNotifyInterval);
        Assert.False(config.EnableLeaseCheckpoint);
        Assert.Equal(Path.Combine("default.dotcd", "member", "wal"), config.EffectiveWalDir);
    }

    [Fact]
    public void TheLoadedDefaultsEqualMemberConfigDefault()
    {
        MemberConfig loaded = Load.Config();
        MemberConfig initial = MemberConfig.Default;

        // Field by field: ImmutableArray compares by reference in record equality.
        Assert.Equal(initial.DataDir, loaded.DataDir);
        Assert.Equal(Load.Urls(initial.ListenClientUrls), Load.Urls(loaded.ListenClientUrls));
        Assert.Equal(Load.Urls(initial.InitialAdvertisePeerUrls), Load.Urls(loaded.InitialAdvertisePeerUrls));
        Assert.Equal(initial.InitialCluster, loaded.InitialCluster);
        Assert.Equal(initial.LogOutputs.AsEnumerable(), loaded.LogOutputs.AsEnumerable());
        var members = initial.InitialClusterMembers;
        Assert.Equal(
            initial with { ListenClientUrls = [], ListenPeerUrls = [], AdvertiseClientUrls = [], InitialAdvertisePeerUrls = [], LogOutputs = [] },
            loaded with { ListenClientUrls = [], ListenPeerUrls = [], AdvertiseClientUrls = [], InitialAdvertisePeerUrls = [], LogOutputs = [], InitialClusterMembers = members });
        Assert.Equal(members.Keys, loaded.InitialClusterMembers.Keys);
    }

    /// <summary>A value for each supported flag, the other flags it needs, and what must follow.</summary>
    public static TheoryData<string, string, string[], Func<MemberConfig, object>, object> SupportedSamples => new()
    {
        { "name", "infra1", [], c => c.Name, "infra1" },
        { "data-dir", "/var/lib/dotcd", [], c => c.DataDir, "/var/lib/dotcd" },
        { "wal-dir", "/wal", [], c => c.WalDir, "/wal" },
        { "snapshot-count", "5000", [], c => c.SnapshotCount, 5000L },
        { "heartbeat-interval", "50", [], c => c.HeartbeatInterval, TimeSpan.FromMilliseconds(50) },
        { "election-timeout", "2500", [], c => c.ElectionTimeout, TimeSpan.FromMilliseconds(2500) },
        { "listen-peer-urls", "http://127.0.0.1:12380,http://10.0.0.1:12380", [], c => Load.Urls(c.ListenPeerUrls), "http://10.0.0.1:12380,http://127.0.0.1:12380" },
        { "listen-client-urls", "http://0.0.0.0:12379", ["--advertise-client-urls", "http://10.0.0.1:12379"], c => Load.Urls(c.ListenClientUrls), "http://0.0.0.0:12379" },
        { "quota-backend-bytes", "8589934592", [], c => c.QuotaBackendBytes, 8589934592L },
        { "max-txn-ops", "256", [], c => c.MaxTxnOps, 256L },
        { "max-request-bytes", "10485760", [], c => c.MaxRequestBytes, 10485760L },
        { "initial-advertise-peer-urls", "http://10.0.0.1:2380", ["--initial-cluster", "default=http://10.0.0.1:2380"], c => Load.Urls(c.InitialAdvertisePeerUrls), "http://10.0.0.1:2380" },
        { "initial-cluster", "default=http://localhost:2380,b=http://10.0.0.2:2380", [], c => string.Join(";", c.InitialClusterMembers.Select(m => m.Key + "=" + Load.Urls(m.Value))), "b=http://10.0.0.2:2380;default=http://localhost:2380" },
        { "initial-cluster-state", "existing", [], c => c.InitialClusterState, InitialClusterState.Existing },
        { "initial-cluster-token", "tok-1", [], c => c.InitialClusterToken, "tok-1" },
        { "advertise-client-urls", "https://10.0.0.1:2379", [], c => Load.Urls(c.AdvertiseClientUrls), "https://10.0.0.1:2379" },
        { "auto-compaction-retention", "5m", [], c => c.AutoCompactionRetentionPeriod, TimeSpan.FromMinutes(5) },
        { "auto-compaction-mode", "revision", ["--auto-compaction-retention", "1000"], c => (c.AutoCompactionMode, c.AutoCompactionRetentionRevisions), (AutoCompactionMode.Revision, 1000L) },
        { "cert-file", "/tls/server.crt", [], c => c.ClientTransportSecurity.CertFile, "/tls/server.crt" },
        { "key-file", "/tls/server.key", [], c => c.ClientTransportSecurity.KeyFile, "/tls/server.key" },
        { "trusted-ca-file", "/tls/ca.crt", [], c => c.ClientTransportSecurity.TrustedCaFile, "/tls/ca.crt" },
        { "client-cert-auth", "true", [], c => c.ClientTransportSecurity.ClientCertAuth, true },
        { "auto-tls", "true", [], c => c.ClientTransportSecurity.AutoTls, true },
        { "logger", "zap", [], c => c.Logger, "zap" },
        { "log-level", "debug", [], c => c.LogLevel, LogLevel.Debug },
        { "log-outputs", "stdout,/var/log/dotcd.log,stdout", [], c => string.Join(",", c.LogOutputs), "/var/log/dotcd.log,stdout" },
        { "experimental-watch-progress-notify-interval", "5s", [], c => c.WatchProgressNotifyInterval, TimeSpan.FromSeconds(5) },
        { "experimental-enable-lease-checkpoint", "true", [], c => c.EnableLeaseCheckpoint, true },
    };

    [Fact]
    public void EverySupportedFlagHasASample()
    {
        var sampled = SupportedSamples.Select(row => (string)row[0]).ToHashSet();
        string[] missing = [.. EtcdFlags.All
            .Where(f => f.Support == FlagSupport.Supported && f.Name is not (EtcdFlags.ConfigFileFlag or EtcdFlags.VersionFlag))
            .Select(f => f.Name)
            .Where(n => !sampled.Contains(n))];
        Assert.Empty(missing);
    }

    [Theory]
    [MemberData(nameof(SupportedSamples))]
    public void EachSupportedFlagReadsInEveryGoSyntax(string flag, string value, string[] extra, Func<MemberConfig, object> read, object expected)
    {
        bool boolean = EtcdFlags.Get(flag).IsBoolean;
        var spellings = new List<string[]> { new[] { $"--{flag}={value}" }, new[] { $"-{flag}={value}" } };
        if (boolean)
        {
            // Go's boolean flags take a value only after '='; alone they mean true.
            spellings.Add([$"--{flag}"]);
            spellings.Add([$"-{flag}"]);
        }
        else
        {
            spellings.Add([$"--{flag}", value]);
            spellings.Add([$"-{flag}", value]);
        }

        foreach (string[] spelling in spellings)
        {
            MemberConfig config = Load.Config([.. spelling, .. extra]);
            Assert.Equal(expected, read(config));
        }
    }

    [Theory]
    [MemberData(nameof(SupportedSamples))]
    public void EachSupportedFlagReadsFromItsEnvironmentVariable(string flag, string value, string[] extra, Func<MemberConfig, object> read, object expected)
    {
        var environment = new Dictionary<string, string> { ["ETCD_" + flag.ToUpperInvariant().Replace('-', '_')] = value };
        for (int i = 0; i < extra.Length; i += 2)
        {
            environment["ETCD_" + extra[i][2..].ToUpperInvariant().Replace('-', '_')] = extra[i + 1];
        }

        Assert.Equal(expected, read(Load.ConfigWith(environment)));
    }

    [Fact]
    public void ABooleanFlagDoesNotTakeTheNextArgument()
    {
        // As in etcd: "--client-cert-auth false" sets true, and "false" is a stray argument.
        ConfigLoadResult result = Load.Of("--client-cert-auth", "false");

        Assert.Equal(LoadOutcome.Invalid, result.Outcome);
        Assert.Equal("'false' is not a valid flag", result.Message);
        Assert.False(Load.Config("--client-cert-auth=false").ClientTransportSecurity.ClientCertAuth);
        Assert.True(Load.Config("--client-cert-auth=1").ClientTransportSecurity.ClientCertAuth);
    }

    [Fact]
    public void AValueFlagTakesTheNextArgumentEvenWhenItLooksLikeAFlag()
    {
        Assert.Equal("--wal-dir", Load.Config("--name", "--wal-dir").Name);
    }

    [Fact]
    public void TheLastOfRepeatedFlagsWins()
    {
        Assert.Equal("b", Load.Config("--name=a", "-name", "b").Name);
    }

    [Fact]
    public void ParsingStopsAtADoubleDashAndRefusesWhatFollows()
    {
        ConfigLoadResult result = Load.Of("--name=x", "--", "--wal-dir=y");

        Assert.Equal(LoadOutcome.Invalid, result.Outcome);
        Assert.Equal("'--wal-dir=y' is not a valid flag", result.Message);
    }

    [Theory]
    [InlineData("--snapshot-count", "0x10", 16L)]
    [InlineData("--snapshot-count", "0o17", 15L)]
    [InlineData("--snapshot-count", "017", 15L)]
    [InlineData("--snapshot-count", "0b101", 5L)]
    [InlineData("--snapshot-count", "1_000", 1000L)]
    public void NumbersUseGosBaseZeroSyntax(string flag, string value, long expected)
    {
        Assert.Equal(expected, Load.Config(flag, value).SnapshotCount);
    }

    [Theory]
    [InlineData(new[] { "--foo" }, "flag provided but not defined: -foo")]
    [InlineData(new[] { "-foo=1" }, "flag provided but not defined: -foo")]
    [InlineData(new[] { "--name" }, "flag needs an argument: -name")]
    [InlineData(new[] { "---name", "x" }, "bad flag syntax: ---name")]
    [InlineData(new[] { "-=x" }, "bad flag syntax: -=x")]
    [InlineData(new[] { "--heartbeat-interval", "abc" }, "invalid value \"abc\" for flag -heartbeat-interval: parse error")]
    [InlineData(new[] { "--heartbeat-interval", "-1" }, "invalid value \"-1\" for flag -heartbeat-interval: parse error")]
    [InlineData(new[] { "--snapshot-count", "99999999999999999999999" }, "invalid value \"99999999999999999999999\" for flag -snapshot-count: value out of range")]
    [InlineData(new[] { "--snapshot-count", "1__0" }, "invalid value \"1__0\" for flag -snapshot-count: parse error")]
    [InlineData(new[] { "--quota-backend-bytes", "1.5" }, "invalid value \"1.5\" for flag -quota-backend-bytes: parse error")]
    [InlineData(new[] { "--experimental-watch-progress-notify-interval", "10" }, "invalid value \"10\" for flag -experimental-watch-progress-notify-interval: parse error")]
    [InlineData(new[] { "--initial-cluster-state", "bogus" }, "invalid value \"bogus\" for flag -initial-cluster-state: invalid value")]
    [InlineData(new[] { "--max-concurrent-streams", "-1" }, "invalid value \"-1\" for flag -max-concurrent-streams: strconv.ParseUint: parsing \"-1\": invalid syntax")]
    [InlineData(new[] { "--max-concurrent-streams", "5000000000" }, "invalid value \"5000000000\" for flag -max-concurrent-streams: strconv.ParseUint: parsing \"5000000000\": value out of range")]
    [InlineData(new[] { "--version=maybe" }, "invalid boolean value \"maybe\" for -version: parse error")]
    [InlineData(new[] { "--listen-client-urls", "foo" }, "invalid value \"foo\" for flag -listen-client-urls: URL scheme must be http, https, unix, or unixs: foo")]
    [InlineData(new[] { "--listen-client-urls", "127.0.0.1:2379" }, "invalid value \"127.0.0.1:2379\" for flag -listen-client-urls: parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon")]
    [InlineData(new[] { "--listen-client-urls", "http://localhost" }, "invalid value \"http://localhost\" for flag -listen-client-urls: URL address does not have the form \"host:port\": http://localhost")]
    [InlineData(new[] { "--listen-client-urls", "http://a:b" }, "invalid value \"http://a:b\" for flag -listen-client-urls: parse \"http://a:b\": invalid port \":b\" after host")]
    [InlineData(new[] { "--listen-client-urls", "HTTP://127.0.0.1:2379/" }, "invalid value \"HTTP://127.0.0.1:2379/\" for flag -listen-client-urls: URL must not contain a path: HTTP://127.0.0.1:2379/")]
    public void FlagSyntaxErrorsUseGosWording(string[] args, string message)
    {
        ConfigLoadResult result = Load.Of(args);

        Assert.Equal(LoadOutcome.UsageError, result.Outcome);
        Assert.Equal(message, result.Message);
    }

    [Fact]
    public void AnUnknownFlagPrintsEtcdsErrorAndUsageAndExitsTwo()
    {
        HostRun run = HostRun.Of(["--foo"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", run.StandardOutput);
        Assert.StartsWith("flag provided but not defined: -foo\nUsage:\n\n  dotcd [flags]\n", run.StandardError);
    }

    [Fact]
    public void EtcdsRemovedFlagsAreWarnedAboutAndIgnored()
    {
        HostRun run = HostRun.Of(["--peer-heartbeat-interval", "-cluster-active-size=7"]);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("server configuration", run.LogLines[^1].GetProperty("msg").GetString());
        string[] ignored = [.. run.LogLines
            .Where(l => l.GetProperty("msg").GetString() == "flag is no longer supported - ignoring")
            .Select(l => l.GetProperty("flag").GetString()!)];
        Assert.Equal(["-peer-heartbeat-interval", "-cluster-active-size"], ignored);
        Assert.All(
            run.LogLines.Where(l => l.GetProperty("msg").GetString() == "flag is no longer supported - ignoring"),
            l => Assert.Equal("warn", l.GetProperty("level").GetString()));
    }

    [Fact]
    public void EveryDefaultInTheTableParsesAndCountsAsDefault()
    {
        foreach (FlagSpec flag in EtcdFlags.All.Where(f => f.Support == FlagSupport.NotYet))
        {
            Assert.False(flag.DefaultValues.IsEmpty, flag.Name);
            foreach (string text in flag.DefaultValues)
            {
                object value = ImmutableArray<string>.Empty;
                if (text.Length > 0 || flag.Kind is not (FlagKind.Urls or FlagKind.Cors or FlagKind.UniqueStrings or FlagKind.Strings or FlagKind.Duration))
                {
                    Assert.True(flag.TryParse(text, out value, out string error), $"--{flag.Name} default {text}: {error}");
                }
                else if (flag.Kind == FlagKind.Duration)
                {
                    value = TimeSpan.Zero;
                }

                Assert.True(flag.IsDefault(value), $"--{flag.Name} {text}");
            }
        }
    }
}
