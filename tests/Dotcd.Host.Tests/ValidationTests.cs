using Dotcd.Configuration;

namespace Dotcd.Host.Tests;

public sealed class ValidationTests
{
    [Theory]
    [InlineData(new[] { "--election-timeout", "400" }, "--election-timeout[400ms] should be at least as 5 times as --heartbeat-interval[100ms]")]
    [InlineData(new[] { "--election-timeout", "60000" }, "--election-timeout[60000ms] is too long, and should be set less than 50000ms")]
    [InlineData(new[] { "--heartbeat-interval", "0" }, "--heartbeat-interval must be >0 (set to 0ms)")]
    [InlineData(new[] { "--election-timeout", "0" }, "--election-timeout must be >0 (set to 0ms)")]
    [InlineData(new[] { "--listen-client-urls", "http://127.0.0.1:2379" }, "--advertise-client-urls is required when --listen-client-urls is set explicitly")]
    [InlineData(new[] { "--listen-client-urls", "http://example.com:1", "--advertise-client-urls", "http://x:1" }, "expected IP in URL for binding (http://example.com:1)")]
    [InlineData(new[] { "--listen-peer-urls", "http://010.0.0.1:1" }, "expected IP in URL for binding (http://010.0.0.1:1)")]
    [InlineData(new[] { "--advertise-client-urls", "http://:2379" }, "--advertise-client-urls \"http://:2379\" must be \"host:port\" (unexpected empty host (http://:2379))")]
    [InlineData(new[] { "--auto-compaction-mode", "foo" }, "unknown auto-compaction-mode \"foo\"")]
    [InlineData(new[] { "--auto-compaction-retention", "abc" }, "error parsing CompactionRetention: time: invalid duration \"abc\"")]
    [InlineData(new[] { "--auto-compaction-retention", "-5" }, "error parsing CompactionRetention: time: missing unit in duration \"-5\"")]
    [InlineData(new[] { "--auto-compaction-mode", "revision", "--auto-compaction-retention", "1h" }, "error parsing CompactionRetention: revision mode needs a non-negative integer number of revisions, got \"1h\"")]
    [InlineData(new[] { "--logger", "bogus" }, "unknown logger option \"bogus\"")]
    [InlineData(new[] { "--log-level", "verbose" }, "unknown level \"verbose\"")]
    [InlineData(new[] { "--log-outputs", "stdout,default" }, "multi logoutput for \"default\" is not supported yet")]
    [InlineData(new[] { "--initial-cluster", "foo" }, "error setting up initial cluster: URL scheme must be http, https, unix, or unixs: ")]
    [InlineData(new[] { "--initial-cluster", "other=http://localhost:2380" }, "couldn't find local name \"default\" in the initial cluster configuration")]
    [InlineData(new[] { "--initial-cluster", "default=http://localhost:2380,b=http://localhost:2380" }, "initial cluster b=http://localhost:2380,default=http://localhost:2380 has duplicate url")]
    [InlineData(new[] { "--initial-advertise-peer-urls", "http://10.0.0.1:2380,http://localhost:2380" }, "--initial-advertise-peer-urls has http://10.0.0.1:2380 but missing from --initial-cluster=default=http://10.0.0.1:2380,default=http://localhost:2380")]
    [InlineData(new[] { "extra" }, "'extra' is not a valid flag")]
    public void InvalidSettingsAreRefusedWithEtcdsMessages(string[] args, string message)
    {
        HostRun run = HostRun.Of(args);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal(message, run.VerifyError);
        Assert.Equal("warn", run.LogLine("failed to verify flags").GetProperty("level").GetString());
    }

    [Fact]
    public void AnInitialClusterMissingTheAdvertisedUrlIsRefused()
    {
        ConfigLoadResult result = Load.Of("--initial-cluster", "default=http://127.0.0.1:2380");

        Assert.Equal(LoadOutcome.Invalid, result.Outcome);
        Assert.StartsWith(
            "--initial-cluster has default=http://127.0.0.1:2380 but missing from --initial-advertise-peer-urls=http://localhost:2380",
            result.Message);
    }

    [Fact]
    public void AnExistingClusterNeedsOnlyItsOwnNameInTheInitialCluster()
    {
        MemberConfig config = Load.Config("--initial-cluster-state", "existing", "--initial-cluster", "default=http://127.0.0.1:2380");

        Assert.Equal(InitialClusterState.Existing, config.InitialClusterState);
    }

    [Fact]
    public void TheDefaultInitialClusterFollowsTheNameAndAdvertisedPeers()
    {
        MemberConfig config = Load.Config("--name", "infra1", "--initial-advertise-peer-urls", "http://10.0.0.1:2380");

        Assert.Equal("infra1=http://10.0.0.1:2380", config.InitialCluster);
        Assert.Equal("infra1.dotcd", config.DataDir);
    }

    [Fact]
    public void UrlListsAreSortedAsEtcdSortsThem()
    {
        MemberConfig config = Load.Config("--listen-client-urls", "http://[::1]:2379, http://127.0.0.1:2379", "--advertise-client-urls", "unix://localhost:1");

        Assert.Equal("http://127.0.0.1:2379,http://[::1]:2379", Load.Urls(config.ListenClientUrls));
        Assert.Equal("::1", config.ListenClientUrls[1].Host);
        Assert.Equal("2379", config.ListenClientUrls[1].Port);
    }

    [Fact]
    public void PeriodicRetentionIsHoursOrADuration()
    {
        Assert.Equal(TimeSpan.FromHours(3), Load.Config("--auto-compaction-retention", "3").AutoCompactionRetentionPeriod);
        Assert.Equal(TimeSpan.FromMinutes(90), Load.Config("--auto-compaction-retention", "1h30m").AutoCompactionRetentionPeriod);
    }

    [Fact]
    public void QuotaZeroMeansTwoGibibytesAndNegativeMeansNone()
    {
        Assert.Equal(2L << 30, Load.Config("--quota-backend-bytes=0").EffectiveQuotaBackendBytes);
        Assert.Null(Load.Config("--quota-backend-bytes=-1").EffectiveQuotaBackendBytes);
        Assert.Equal(1L << 33, Load.Config("--quota-backend-bytes=8589934592").EffectiveQuotaBackendBytes);
    }

    [Fact]
    public void AVerificationErrorIsLoggedWhereTheConfigurationSentTheLogs()
    {
        HostRun run = HostRun.Of(["--log-outputs=stdout", "--election-timeout=1"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("\"msg\":\"failed to verify flags\"", run.StandardOutput);
        Assert.Equal("", run.StandardError);
    }
}
