using Dotcd.Configuration;

namespace Dotcd.Host.Tests;

public sealed class UnsupportedFlagTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A value other than etcd's default for every flag dotcd has not built.</summary>
    public static TheoryData<string> NotYetFlags => new(EtcdFlags.All.Where(f => f.Support == FlagSupport.NotYet).Select(f => f.Name));

    private static string NonDefault(FlagSpec flag) => flag.Kind switch
    {
        FlagKind.Bool => flag.DefaultValues[0] == "true" ? "false" : "true",
        FlagKind.Choice => flag.Choices.First(c => c != flag.DefaultValues[0]),
        FlagKind.Uint or FlagKind.Uint32 or FlagKind.Uint64 or FlagKind.Int or FlagKind.Int64 => "7",
        FlagKind.Duration => "7s",
        FlagKind.Urls => "http://127.0.0.1:7",
        FlagKind.Cors => "http://a.example:1",
        FlagKind.UniqueStrings => "stdout",
        FlagKind.Strings => "TLS_RSA_WITH_AES_128_CBC_SHA",
        _ => "not-a-default",
    };

    [Theory]
    [MemberData(nameof(NotYetFlags))]
    public void ANotYetFlagIsRefusedNamingIt(string name)
    {
        FlagSpec flag = EtcdFlags.Get(name);
        string value = NonDefault(flag);

        HostRun run = HostRun.Of([$"--{name}={value}"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"dotcd: flag --{name} is not supported yet\n", run.StandardError);
    }

    [Theory]
    [MemberData(nameof(NotYetFlags))]
    public void ANotYetFlagIsRefusedFromItsVariable(string name)
    {
        FlagSpec flag = EtcdFlags.Get(name);

        ConfigLoadResult result = Load.With(new() { [flag.EnvironmentVariable] = NonDefault(flag) });

        Assert.Equal(LoadOutcome.NotSupported, result.Outcome);
        Assert.Equal($"dotcd: flag --{name} (from {flag.EnvironmentVariable}) is not supported yet", result.Message);
    }

    [Theory]
    [MemberData(nameof(NotYetFlags))]
    public void ANotYetFlagIsRefusedFromTheConfigFile(string name)
    {
        FlagSpec flag = EtcdFlags.Get(name);
        if (flag.ConfigKey is null)
        {
            return; // etcd's config file has no key for it.
        }

        string value = NonDefault(flag);
        string yamlValue = flag.ConfigKind switch
        {
            ConfigValueKind.StringList => $"[\"{value}\"]",
            ConfigValueKind.Duration => "7000000000",
            _ => $"\"{value}\"",
        };
        if (flag.ConfigKind is ConfigValueKind.Bool or ConfigValueKind.Number)
        {
            yamlValue = value;
        }

        string[] key = flag.ConfigKey.Split('.');
        string yaml = key.Length == 1 ? $"{key[0]}: {yamlValue}\n" : $"{key[0]}:\n  {key[1]}: {yamlValue}\n";
        string path = _dir.File("etcd.yaml", yaml);

        ConfigLoadResult result = Load.Of("--config-file", path);

        Assert.Equal(LoadOutcome.NotSupported, result.Outcome);
        Assert.Equal($"dotcd: flag --{name} (config file key {flag.ConfigKey}) is not supported yet", result.Message);
    }

    [Theory]
    [InlineData("--enable-v2=false")]
    [InlineData("--strict-reconfig-check")]
    [InlineData("--max-snapshots=5")]
    [InlineData("--max-concurrent-streams=4294967295")]
    [InlineData("--grpc-keepalive-interval=120m")]
    [InlineData("--proxy=off")]
    [InlineData("--cors=*")]
    [InlineData("--experimental-compaction-batch-limit=1000")]
    public void ANotYetFlagAtEtcdsDefaultChangesNothingAndIsAccepted(string arg)
    {
        Assert.Equal(LoadOutcome.Run, Load.Of(arg).Outcome);
    }

    [Fact]
    public void CapnslogIsRefusedClearly()
    {
        HostRun run = HostRun.Of(["--logger", "capnslog"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("dotcd: --logger=capnslog is not supported: dotcd writes etcd's zap JSON log lines; use --logger=zap\n", run.StandardError);
    }

    [Fact]
    public void JournaldOutputIsRefusedClearly()
    {
        HostRun run = HostRun.Of(["--log-outputs=systemd/journal"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("dotcd: --log-outputs=systemd/journal is not supported yet\n", run.StandardError);
    }

    [Theory]
    [InlineData("gateway")]
    [InlineData("grpc-proxy")]
    public void EtcdsProxyCommandsAreRefused(string command)
    {
        HostRun run = HostRun.Of([command, "start"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"dotcd: command \"{command}\" is not supported yet\n", run.StandardError);
    }
}
