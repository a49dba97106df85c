using Dotcd.Configuration;
using Dotcd.Logging;

namespace Dotcd.Host.Tests;

public sealed class ConfigFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void EtcdsKeysSetTheConfiguration()
    {
        string path = _dir.File("etcd.yaml", """
            name: infra1
            data-dir: /var/lib/dotcd/infra1
            wal-dir: /wal
            snapshot-count: 10000
            heartbeat-interval: 200
            election-timeout: 2000
            quota-backend-bytes: 8589934592
            max-request-bytes: 10485760
            max-txn-ops: 512
            listen-peer-urls: http://10.0.0.1:2380
            listen-client-urls: http://10.0.0.1:2379,http://127.0.0.1:2379
            initial-advertise-peer-urls: http://10.0.0.1:2380
            advertise-client-urls: http://10.0.0.1:2379
            initial-cluster: infra1=http://10.0.0.1:2380,infra2=http://10.0.0.2:2380
            initial-cluster-token: tok
            initial-cluster-state: existing
            auto-compaction-mode: revision
            auto-compaction-retention: 1000
            logger: zap
            log-level: warn
            log-outputs: [stderr]
            experimental-watch-progress-notify-interval: 5000000000
            experimental-enable-lease-checkpoint: true
            client-transport-security:
              cert-file: /tls/server.crt
              key-file: /tls/server.key
              client-cert-auth: true
              trusted-ca-file: /tls/ca.crt
              auto-tls: false
            """);

        MemberConfig config = Load.Config("--config-file", path);

        Assert.Equal("infra1", config.Name);
        Assert.Equal("/var/lib/dotcd/infra1", config.DataDir);
        Assert.Equal("/wal", config.WalDir);
        Assert.Equal(10000, config.SnapshotCount);
        Assert.Equal(TimeSpan.FromMilliseconds(200), config.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(2000), config.ElectionTimeout);
        Assert.Equal(8589934592, config.QuotaBackendBytes);
        Assert.Equal(10485760, config.MaxRequestBytes);
        Assert.Equal(512, config.MaxTxnOps);
        Assert.Equal("http://10.0.0.1:2380", Load.Urls(config.ListenPeerUrls));
        Assert.Equal("http://10.0.0.1:2379,http://127.0.0.1:2379", Load.Urls(config.ListenClientUrls));
        Assert.Equal("http://10.0.0.1:2380", Load.Urls(config.InitialAdvertisePeerUrls));
        Assert.Equal("http://10.0.0.1:2379", Load.Urls(config.AdvertiseClientUrls));
        Assert.Equal(["infra1", "infra2"], config.InitialClusterMembers.Keys);
        Assert.Equal("tok", config.InitialClusterToken);
        Assert.Equal(InitialClusterState.Existing, config.InitialClusterState);
        Assert.Equal(AutoCompactionMode.Revision, config.AutoCompactionMode);
        Assert.Equal(1000, config.AutoCompactionRetentionRevisions);
        Assert.Equal(LogLevel.Warn, config.LogLevel);
        Assert.Equal("stderr", Assert.Single(config.LogOutputs));
        Assert.Equal(TimeSpan.FromSeconds(5), config.WatchProgressNotifyInterval);
        Assert.True(config.EnableLeaseCheckpoint);
        Assert.Equal(
            new TransportSecurity { CertFile = "/tls/server.crt", KeyFile = "/tls/server.key", ClientCertAuth = true, TrustedCaFile = "/tls/ca.crt" },
            config.ClientTransportSecurity);
        Assert.Equal(path, config.ConfigFile);
    }

    [Fact]
    public void WithAConfigFileOtherFlagsAndVariablesAreIgnoredAndTheFlagsNamed()
    {
        string path = _dir.File("etcd.yaml", "name: from-file\n");

        HostRun run = HostRun.Of(["--config-file", path, "--name", "from-flag", "--snapshot-count=1"], new() { ["ETCD_WAL_DIR"] = "/env" });

        Assert.Contains("\"name\":\"from-file\"", run.StandardError);
        Assert.Contains("\"wal-dir\":\"\"", run.StandardError);
        Assert.Equal(path, run.LogLine("loaded server configuration, other configuration command line flags and environment variables will be ignored if provided").GetProperty("path").GetString());
        var ignored = run.LogLine("ignoring command-line flags because a configuration file is given").GetProperty("ignored-flags");
        Assert.Equal(["name", "snapshot-count"], ignored.EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void TheConfigFileCanComeFromItsVariable()
    {
        string path = _dir.File("etcd.yaml", "name: from-file\n");

        MemberConfig config = Load.ConfigWith(new() { ["ETCD_CONFIG_FILE"] = path, ["ETCD_NAME"] = "ignored" });

        Assert.Equal("from-file", config.Name);
    }

    [Fact]
    public void StringSettingsTakeAnyScalarAndKeysIgnoreCase()
    {
        string path = _dir.File("etcd.yaml", "NAME: 1234\ninitial-cluster-token: true\nauto-compaction-retention: 2\n");

        MemberConfig config = Load.Config("--config-file", path);

        Assert.Equal("1234", config.Name);
        Assert.Equal("true", config.InitialClusterToken);
        Assert.Equal(TimeSpan.FromHours(2), config.AutoCompactionRetentionPeriod);
    }

    [Fact]
    public void YamlOnePointOneBooleansAreBooleans()
    {
        string path = _dir.File("etcd.yaml", "client-transport-security:\n  client-cert-auth: yes\n");

        Assert.True(Load.Config("--config-file", path).ClientTransportSecurity.ClientCertAuth);
    }

    [Fact]
    public void ListenClientUrlsAloneKeepTheDefaultAdvertiseUrlsInAFile()
    {
        // Unlike flags, etcd's file decoding never drops the default advertise-client-urls.
        string path = _dir.File("etcd.yaml", "listen-client-urls: http://127.0.0.1:12379\n");

        Assert.Equal("http://localhost:2379", Load.Urls(Load.Config("--config-file", path).AdvertiseClientUrls));
    }

    [Fact]
    public void DurationsAreNanosecondsOrGoText()
    {
        string nanoseconds = _dir.File("a.yaml", "experimental-watch-progress-notify-interval: 600000000000\n");
        string text = _dir.File("b.yaml", "experimental-watch-progress-notify-interval: 90s\n");

        Assert.Equal(TimeSpan.FromMinutes(10), Load.Config("--config-file", nanoseconds).WatchProgressNotifyInterval);
        Assert.Equal(TimeSpan.FromSeconds(90), Load.Config("--config-file", text).WatchProgressNotifyInterval);
    }

    [Theory]
    [InlineData("heartbeat-interval: abc\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.heartbeat-interval of type uint")]
    [InlineData("heartbeat-interval: \"100\"\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.heartbeat-interval of type uint")]
    [InlineData("heartbeat-interval: -5\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number -5 into Go struct field configYAML.heartbeat-interval of type uint")]
    [InlineData("experimental-enable-lease-checkpoint: maybe\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.experimental-enable-lease-checkpoint of type bool")]
    [InlineData("log-outputs: stderr\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct field configYAML.log-outputs of type []string")]
    [InlineData("name: [a, b]\n", "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field configYAML.name of type string")]
    [InlineData("listen-client-urls: foo\n", "unexpected error setting up listen-client-urls: URL scheme must be http, https, unix, or unixs: foo")]
    [InlineData("initial-cluster-state: bogus\n", "unexpected clusterState \"bogus\"")]
    [InlineData("election-timeout: 3\n", "--election-timeout[3ms] should be at least as 5 times as --heartbeat-interval[100ms]")]
    public void BadValuesAreRefusedWithEtcdsMessages(string yaml, string message)
    {
        string path = _dir.File("etcd.yaml", yaml);

        ConfigLoadResult result = Load.Of("--config-file", path);

        Assert.Equal(LoadOutcome.Invalid, result.Outcome);
        Assert.Equal(message, result.Message);
    }

    [Fact]
    public void BrokenYamlIsRefused()
    {
        string path = _dir.File("etcd.yaml", ": [\n");

        ConfigLoadResult result = Load.Of("--config-file", path);

        Assert.Equal(LoadOutcome.Invalid, result.Outcome);
        Assert.StartsWith("error converting YAML to JSON: yaml: line ", result.Message);
    }

    [Fact]
    public void AMissingFileIsRefused()
    {
        string path = Path.Combine(_dir.Path, "nope.yaml");

        ConfigLoadResult result = Load.Of("--config-file", path);

        Assert.Equal(LoadOutcome.Invalid, result.Outcome);
        Assert.Equal($"open {path}: no such file or directory", result.Message);
    }

    [Fact]
    public void UnknownKeysAreIgnoredWithAWarning()
    {
        string path = _dir.File("etcd.yaml", "name: a\nnmae: typo\nclient-transport-security:\n  cert-fil: x\n");

        HostRun run = HostRun.Of(["--config-file", path]);

        var keys = run.LogLine("ignoring unknown configuration file keys").GetProperty("keys");
        Assert.Equal(["nmae", "client-transport-security.cert-fil"], keys.EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void AnEmptyFileMeansEtcdsDefaults()
    {
        string path = _dir.File("etcd.yaml", "");

        MemberConfig config = Load.Config("--config-file", path);

        Assert.Equal("default", config.Name);
        Assert.Equal("default.dotcd", config.DataDir);
    }

    [Fact]
    public void ARepeatedKeyTakesItsLastValueAsInEtcd()
    {
        string path = _dir.File("etcd.yaml", "name: first\nname: second\n");

        Assert.Equal("second", Load.Config("--config-file", path).Name);
    }

    [Fact]
    public void AnchorsAndAliasesAreResolved()
    {
        string path = _dir.File("etcd.yaml", "heartbeat-interval: &tick 250\nelection-timeout: 2500\nx-copy: *tick\n");

        Assert.Equal(TimeSpan.FromMilliseconds(250), Load.Config("--config-file", path).HeartbeatInterval);
    }

    [Fact]
    public void AnEmptyInitialClusterStateMeansNew()
    {
        string path = _dir.File("etcd.yaml", "initial-cluster-state: ''\n");

        Assert.Equal(InitialClusterState.New, Load.Config("--config-file", path).InitialClusterState);
    }
}
