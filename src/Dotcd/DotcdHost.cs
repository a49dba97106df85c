using System.Collections;
using System.Text;
using Dotcd.Configuration;
using Dotcd.Logging;

namespace Dotcd;

/// <summary>
/// The dotcd executable: reads the configuration as etcd does, sets up logging, logs the
/// first milestones, and (until the member exists, issue #2) stops with a clear error.
/// Streams and the clock are parameters so tests run it in-process.
/// </summary>
internal static class DotcdHost
{
    public const string NotBuiltMessage = "dotcd: serving is not built yet: see issue #2";

    public static int Run(
        IReadOnlyList<string> args,
        IReadOnlyDictionary<string, string> environment,
        Stream standardOutput,
        Stream standardError,
        TimeProvider time)
    {
        // etcd hands these sub-commands to its proxies before reading any flag.
        if (args.Count > 0 && args[0] is "gateway" or "grpc-proxy")
        {
            WriteText(standardError, $"dotcd: command \"{args[0]}\" is not supported yet\n");
            return 1;
        }

        ConfigLoadResult result = ConfigLoader.Load(args, environment);
        switch (result.Outcome)
        {
            case LoadOutcome.Help:
                WriteText(standardError, HelpText.Usage + "\n");
                WriteText(standardOutput, HelpText.Flags);
                return 0;
            case LoadOutcome.Version:
                WriteText(standardOutput, VersionInfo.Text);
                return 0;
            case LoadOutcome.UsageError:
                WriteNotes(result, standardOutput, standardError, time);
                WriteText(standardError, result.Message + "\n" + HelpText.Usage + "\n");
                return 2;
            case LoadOutcome.NotSupported:
                WriteNotes(result, standardOutput, standardError, time);
                WriteText(standardError, result.Message + "\n");
                return 1;
            case LoadOutcome.Fatal:
            {
                using Logger log = DefaultLogger(standardOutput, standardError, time);
                Replay(log, result);
                log.Log(LogLevel.Fatal, result.Message, []);
                return 1;
            }

            case LoadOutcome.Invalid:
            {
                using Logger log = ErrorLogger(result, standardOutput, standardError, time);
                Replay(log, result);
                log.Warn("failed to verify flags", LogField.Error(result.Message));
                if (result.Message == ConfigDraft.UnsetAdvertiseClientUrls)
                {
                    log.Warn("advertise client URLs are not set", LogField.Error(result.Message));
                }

                return 1;
            }
        }

        MemberConfig config = result.Config!;
        Logger logger;
        try
        {
            logger = Logger.Create(config.LogLevel, config.LogOutputs, time, standardOutput, standardError);
        }
        catch (LogOutputException e)
        {
            using Logger log = DefaultLogger(standardOutput, standardError, time);
            Replay(log, result);
            log.Warn("failed to verify flags", LogField.Error(e.Message));
            return 1;
        }

        using (logger)
        {
            Replay(logger, result);
            LogStartup(logger, args, config);
        }

        WriteText(standardError, NotBuiltMessage + "\n");
        return 1;
    }

    /// <summary>The process environment as a dictionary (later duplicates win, as getenv sees them).</summary>
    public static IReadOnlyDictionary<string, string> ProcessEnvironment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }

        return environment;
    }

    // etcd's first lines for a configuration: the command line, the versions, then the
    // settings it starts with ("starting an etcd server" in etcd).
    private static void LogStartup(Logger log, IReadOnlyList<string> args, MemberConfig config)
    {
        log.Info("Running: ", LogField.Strings("args", ["dotcd", .. args]));
        log.Info(
            "dotcd Version",
            LogField.String("dotcd-version", VersionInfo.DotcdVersion),
            LogField.String("etcd-version", VersionInfo.EtcdCompatibleVersion),
            LogField.String("git-sha", VersionInfo.GitSha),
            LogField.String("dotnet-version", VersionInfo.DotnetVersion),
            LogField.String("os", VersionInfo.OperatingSystem),
            LogField.String("arch", VersionInfo.Architecture),
            LogField.Int64("max-cpu-available", Environment.ProcessorCount));
        log.Log(
            LogLevel.Info,
            "server configuration",
            [
                LogField.String("name", config.Name),
                LogField.String("data-dir", config.DataDir),
                LogField.String("wal-dir", config.WalDir),
                LogField.String("member-dir", config.MemberDir),
                LogField.Duration("heartbeat-interval", config.HeartbeatInterval),
                LogField.Duration("election-timeout", config.ElectionTimeout),
                LogField.Int64("snapshot-count", config.SnapshotCount),
                LogField.Strings("initial-advertise-peer-urls", config.InitialAdvertisePeerUrls),
                LogField.Strings("listen-peer-urls", config.ListenPeerUrls),
                LogField.Strings("advertise-client-urls", config.AdvertiseClientUrls),
                LogField.Strings("listen-client-urls", config.ListenClientUrls),
                LogField.String("initial-cluster", config.InitialCluster),
                LogField.String("initial-cluster-state", config.InitialClusterState == InitialClusterState.New ? "new" : "existing"),
                LogField.String("initial-cluster-token", config.InitialClusterToken),
                LogField.Int64("quota-backend-bytes", config.EffectiveQuotaBackendBytes ?? config.QuotaBackendBytes),
                LogField.Int64("max-request-bytes", config.MaxRequestBytes),
                LogField.Int64("max-txn-ops", config.MaxTxnOps),
                LogField.String("auto-compaction-mode", config.AutoCompactionMode == AutoCompactionMode.Periodic ? "periodic" : "revision"),
                LogField.String("auto-compaction-retention", config.AutoCompactionRetention),
                LogField.Duration("watch-progress-notify-interval", config.WatchProgressNotifyInterval),
                LogField.Bool("enable-lease-checkpoint", config.EnableLeaseCheckpoint),
                LogField.Bool("client-tls", config.ClientTransportSecurity.HasCertificate || config.ClientTransportSecurity.AutoTls),
                LogField.Bool("client-cert-auth", config.ClientTransportSecurity.ClientCertAuth),
            ]);
    }

    private static Logger DefaultLogger(Stream standardOutput, Stream standardError, TimeProvider time) =>
        Logger.Create(LogLevel.Info, [LogOutputs.Default], time, standardOutput, standardError);

    // etcd logs a verification error with the logger the configuration asked for when that
    // part of it was valid, else with a default one on stderr.
    private static Logger ErrorLogger(ConfigLoadResult result, Stream standardOutput, Stream standardError, TimeProvider time)
    {
        if (result.ErrorLogLevel is LogLevel level)
        {
            try
            {
                return Logger.Create(level, result.ErrorLogOutputs, time, standardOutput, standardError);
            }
            catch (LogOutputException)
            {
                // Fall back to stderr: the verification error matters more than the output.
            }
        }

        return DefaultLogger(standardOutput, standardError, time);
    }

    private static void WriteNotes(ConfigLoadResult result, Stream standardOutput, Stream standardError, TimeProvider time)
    {
        if (result.Notes.IsEmpty)
        {
            return;
        }

        using Logger log = DefaultLogger(standardOutput, standardError, time);
        Replay(log, result);
    }

    private static void Replay(Logger log, ConfigLoadResult result)
    {
        foreach (PendingLog note in result.Notes)
        {
            log.Log(note.Level, note.Message, note.Fields.AsSpan(), note.CallerFile, note.CallerLine);
        }
    }

    private static void WriteText(Stream stream, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        stream.Write(bytes);
        stream.Flush();
    }
}
