using Dotcd.Configuration;

namespace Dotcd.Host.Tests;

public sealed class EnvironmentTests
{
    [Fact]
    public void AVariableFillsAFlagTheCommandLineLeftOut()
    {
        MemberConfig config = Load.ConfigWith(new() { ["ETCD_NAME"] = "from-env", ["ETCD_SNAPSHOT_COUNT"] = "42" }, "--wal-dir", "/w");

        Assert.Equal("from-env", config.Name);
        Assert.Equal(42, config.SnapshotCount);
        Assert.Equal("/w", config.WalDir);
    }

    [Fact]
    public void AFlagAndItsVariableTogetherAreAFatalConflictAsInEtcd()
    {
        HostRun run = HostRun.Of(["--name", "y"], new() { ["ETCD_NAME"] = "x" });

        Assert.Equal(1, run.ExitCode);
        var line = run.LogLines.Single();
        Assert.Equal("fatal", line.GetProperty("level").GetString());
        Assert.Equal(
            "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)",
            line.GetProperty("msg").GetString());
    }

    [Fact]
    public void AnEmptyVariableIsNotUsedButStillConflictsWithItsFlag()
    {
        Assert.Equal("default", Load.ConfigWith(new() { ["ETCD_NAME"] = "" }).Name);
        Assert.Equal(LoadOutcome.Fatal, Load.With(new() { ["ETCD_NAME"] = "" }, "--name=a").Outcome);
    }

    [Fact]
    public void UsedAndUnknownVariablesAreLogged()
    {
        HostRun run = HostRun.Of([], new() { ["ETCD_SNAPSHOT_COUNT"] = "5", ["ETCD_BOGUS"] = "1", ["HOME"] = "/root" });

        var used = run.LogLine("recognized and used environment variable");
        Assert.Equal("ETCD_SNAPSHOT_COUNT", used.GetProperty("variable-name").GetString());
        Assert.Equal("5", used.GetProperty("variable-value").GetString());
        Assert.Equal("ETCD_BOGUS=1", run.LogLine("unrecognized environment variable").GetProperty("environment-variable").GetString());
        Assert.Equal("warn", run.LogLine("unrecognized environment variable").GetProperty("level").GetString());
    }

    [Fact]
    public void AnInvalidVariableIsRefusedWithEtcdsMessage()
    {
        HostRun run = HostRun.Of([], new() { ["ETCD_HEARTBEAT_INTERVAL"] = "abc" });

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("invalid value \"abc\" for ETCD_HEARTBEAT_INTERVAL: parse error", run.VerifyError);
    }

    [Fact]
    public void AVariableIsReadWithItsFlagsSyntax()
    {
        Assert.Equal(LoadOutcome.Invalid, Load.With(new() { ["ETCD_INITIAL_CLUSTER_STATE"] = "bogus" }).Outcome);
        Assert.Equal(
            "invalid value \"bogus\" for ETCD_INITIAL_CLUSTER_STATE: invalid value",
            Load.With(new() { ["ETCD_INITIAL_CLUSTER_STATE"] = "bogus" }).Message);
        Assert.True(Load.ConfigWith(new() { ["ETCD_CLIENT_CERT_AUTH"] = "true" }).ClientTransportSecurity.ClientCertAuth);
    }

    [Fact]
    public void ListenClientUrlsFromTheEnvironmentAloneDropTheDefaultAdvertiseUrls()
    {
        ConfigLoadResult result = Load.With(new() { ["ETCD_LISTEN_CLIENT_URLS"] = "http://127.0.0.1:2379" });

        Assert.Equal(LoadOutcome.Invalid, result.Outcome);
        Assert.Equal("--advertise-client-urls is required when --listen-client-urls is set explicitly", result.Message);
    }

    [Fact]
    public void TheVersionVariableIsAcceptedButPrintsNothing()
    {
        // etcd checks --version before reading the environment, so ETCD_VERSION changes nothing.
        Assert.Equal(LoadOutcome.Run, Load.With(new() { ["ETCD_VERSION"] = "true" }).Outcome);
    }
}
