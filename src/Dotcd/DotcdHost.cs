using System.Collections;
using System.Text;
using System.Runtime.InteropServices;
using Dotcd.Configuration;
using Dotcd.Logging;
using Dotcd.Raft;
using Dotcd.Server.Composition;
using Dotcd.Storage;

namespace Dotcd;

/// <summary>
/// The dotcd executable: reads the configuration as etcd does, sets up logging, logs the
/// first milestones, then runs the member until SIGTERM or SIGINT (or a fatal error).
/// Streams, the clock and the shutdown signal are parameters so tests run it in-process.
/// </summary>
internal static class DotcdHost
{
    private static string? s_signal; // The signal that asked the process to stop (Go's name for it).

    /// <summary>
    /// Checks the configuration and logs the first milestones without serving: a run whose
    /// shutdown was requested before it began (what in-process callers without a signal get).
    /// </summary>
    public static int Run(
        IReadOnlyList<string> args,
        IReadOnlyDictionary<string, string> environment,
        Stream standardOutput,
        Stream standardError,
        TimeProvider time) =>
        Run(args, environment, standardOutput, standardError, time, new CancellationToken(canceled: true));

    /// <summary>Runs dotcd as the executable does; serves until <paramref name="shutdown"/> is cancelled.</summary>
    public static int Run(
        IReadOnlyList<string> args,
        IReadOnlyDictionary<string, string> environment,
        Stream standardOutput,
        Stream standardError,
        TimeProvider time,
        CancellationToken shutdown)
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
            return shutdown.IsCancellationRequested ? 0 : Serve(logger, config, time, shutdown);
        }
    }

    /// <summary>
    /// The process's shutdown signal: cancelled by SIGTERM or SIGINT (the default handlers are
    /// suppressed so the member can stop gracefully). Dispose the registrations at exit.
    /// </summary>
    public static (CancellationToken Shutdown, IDisposable Registrations) ShutdownSignal()
    {
        var source = new CancellationTokenSource();
        PosixSignalRegistration Register(PosixSignal signal, string name) => PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            if (!source.IsCancellationRequested)
            {
                Volatile.Write(ref s_signal, name);
                source.Cancel();
            }
        });

        PosixSignalRegistration term = Register(PosixSignal.SIGTERM, "terminated");
        PosixSignalRegistration interrupt = Register(PosixSignal.SIGINT, "interrupt");
        return (source.Token, new Registrations([term, interrupt, source]));
    }

    // etcd's startEtcd + the wait in etcdmain: start, serve, stop on a signal or a fatal error.
    private static int Serve(Logger logger, MemberConfig config, TimeProvider time, CancellationToken shutdown)
    {
        if (config.ClientTransportSecurity.AutoTls && !config.ClientTransportSecurity.HasCertificate)
        {
            logger.Log(LogLevel.Fatal, "dotcd: --auto-tls is not supported yet; give --cert-file and --key-file", []);
            return 1;
        }

        EtcdMemberOptions options = ToMemberOptions(config, time, logger);
        EtcdMember member;
        try
        {
            member = EtcdMember.StartAsync(options, shutdown).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception e)
        {
            // etcd: {"level":"fatal","msg":"discovery failed","error":"listen tcp ...: bind: address already in use"}.
            logger.Log(LogLevel.Fatal, "discovery failed", [LogField.Error(e)]);
            return 1;
        }

        var stopRequested = new TaskCompletionSource();
        using CancellationTokenRegistration onShutdown = shutdown.Register(() => stopRequested.TrySetResult());
        Task.WaitAny(stopRequested.Task, member.Completion);
        if (member.Completion.IsFaulted)
        {
            logger.Log(LogLevel.Fatal, "dotcd member stopped", [LogField.Error(member.Completion.Exception!.InnerException!)]);
            return 1;
        }

        if (Volatile.Read(ref s_signal) is { } signal)
        {
            logger.Log(LogLevel.Info, "received signal; shutting down", [LogField.String("signal", signal)]);
        }

        LogField[] identity =
        [
            LogField.String("name", config.Name),
            LogField.String("data-dir", config.DataDir),
            LogField.Strings("advertise-peer-urls", config.InitialAdvertisePeerUrls),
            LogField.Strings("advertise-client-urls", config.AdvertiseClientUrls),
        ];
        logger.Log(LogLevel.Info, "closing etcd server", identity);
        try
        {
            member.StopAsync().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            logger.Log(LogLevel.Error, "failed to stop the member cleanly", [LogField.Error(e)]);
            return 1;
        }

        logger.Log(LogLevel.Info, "closed etcd server", identity);
        return 0;
    }

    private static EtcdMemberOptions ToMemberOptions(MemberConfig config, TimeProvider time, Logger logger)
    {
        TransportSecurity security = config.ClientTransportSecurity;
        return new EtcdMemberOptions
        {
            Name = config.Name,
            DataDir = config.DataDir,
            WalDir = config.WalDir,
            SnapshotCount = (ulong)Math.Max(1, config.SnapshotCount),
            HeartbeatInterval = config.HeartbeatInterval,
            ElectionTicks = config.ElectionTicks,
            ListenClientUrls = [.. config.ListenClientUrls.Select(u => u.ToString())],
            AdvertiseClientUrls = [.. config.AdvertiseClientUrls.Select(u => u.ToString())],
            InitialAdvertisePeerUrls = [.. config.InitialAdvertisePeerUrls.Select(u => u.ToString())],
            InitialCluster = [.. config.InitialClusterMembers.Select(m => (m.Key, (IReadOnlyList<string>)[.. m.Value.Select(u => u.ToString())]))],
            InitialClusterToken = config.InitialClusterToken,
            InitialClusterStateNew = config.InitialClusterState == InitialClusterState.New,
            QuotaBackendBytes = config.EffectiveQuotaBackendBytes,
            MaxRequestBytes = (int)Math.Clamp(config.MaxRequestBytes, 1, int.MaxValue - 1024 * 1024),
            MaxTxnOps = (int)Math.Clamp(config.MaxTxnOps, 1, int.MaxValue),
            AutoCompactionMode = config.AutoCompactionMode switch
            {
                AutoCompactionMode.Periodic when config.AutoCompactionRetentionPeriod > TimeSpan.Zero => AutoCompaction.Periodic,
                AutoCompactionMode.Revision when config.AutoCompactionRetentionRevisions > 0 => AutoCompaction.Revision,
                _ => AutoCompaction.None,
            },
            AutoCompactionPeriod = config.AutoCompactionRetentionPeriod,
            AutoCompactionRevisions = config.AutoCompactionRetentionRevisions,
            EnableLeaseCheckpoint = config.EnableLeaseCheckpoint,
            WatchProgressNotifyInterval = config.WatchProgressNotifyInterval,
            ClientTls = security.HasCertificate
                ? new ClientTls(security.CertFile, security.KeyFile, security.TrustedCaFile, security.ClientCertAuth)
                : null,
            TimeProvider = time,
            Logger = new StorageLogAdapter(logger),
            RaftLogger = new RaftLogAdapter(logger),
        };
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

/// <summary>The member's log lines (storage, raft loop, member milestones) through the host's zap-style logger.</summary>
internal sealed class StorageLogAdapter(Logger logger) : IStorageLog
{
    public void Write(StorageLogLevel level, string message, params ReadOnlySpan<(string Key, object? Value)> fields)
    {
        LogLevel target = level switch
        {
            StorageLogLevel.Warn => LogLevel.Warn,
            StorageLogLevel.Error => LogLevel.Error,
            _ => LogLevel.Info,
        };
        if (!logger.IsEnabled(target))
        {
            return;
        }

        var converted = new LogField[fields.Length];
        for (int i = 0; i < fields.Length; i++)
        {
            converted[i] = ToField(fields[i].Key, fields[i].Value);
        }

        logger.Log(target, message, converted);
    }

    internal static LogField ToField(string key, object? value) => value switch
    {
        null => LogField.String(key, null),
        string text => LogField.String(key, text),
        bool flag => LogField.Bool(key, flag),
        int number => LogField.Int64(key, number),
        long number => LogField.Int64(key, number),
        ulong number => LogField.UInt64(key, number),
        uint number => LogField.Int64(key, number),
        double number => LogField.Double(key, number),
        TimeSpan duration => LogField.Duration(key, duration),
        Exception error => LogField.String(key, error.Message),
        IEnumerable<string> texts => LogField.Strings(key, texts),
        _ => LogField.Stringer(key, value),
    };
}

/// <summary>Raft's decisions ("... became leader at term 2") as etcd logs them: plain messages.</summary>
internal sealed class RaftLogAdapter(Logger logger) : IRaftLogger
{
    public bool IsEnabled(RaftLogLevel level) => logger.IsEnabled(ToLevel(level));

    public void Log(RaftLogLevel level, string message) => logger.Log(ToLevel(level), message, []);

    private static LogLevel ToLevel(RaftLogLevel level) => level switch
    {
        RaftLogLevel.Debug => LogLevel.Debug,
        RaftLogLevel.Warning => LogLevel.Warn,
        RaftLogLevel.Error => LogLevel.Error,
        _ => LogLevel.Info,
    };
}

/// <summary>Disposes several things in order.</summary>
internal sealed class Registrations(IDisposable[] items) : IDisposable
{
    public void Dispose()
    {
        foreach (IDisposable item in items)
        {
            item.Dispose();
        }
    }
}
