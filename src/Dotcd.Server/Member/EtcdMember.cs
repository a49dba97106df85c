using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Dotcd.Grpc;
using Dotcd.Mvcc;
using Dotcd.Server.Http;
using Dotcd.Server.Leases;
using Dotcd.Server.Metrics;
using Dotcd.Server.RaftLoop;
using Dotcd.Server.Services;
using Dotcd.Storage;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Dotcd.Server.Composition;

/// <summary>A configuration dotcd cannot serve (etcd would, or would refuse it the same way).</summary>
public sealed class MemberStartException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One running member (etcd's EtcdServer plus embed.Etcd's client listeners): the durable raft
/// log and the SQLite backend under the data dir, the raft loop applying into the backend, and
/// etcd's gRPC API, /health, /version and /metrics on the client URLs.
/// </summary>
/// <remarks>
/// <code>
/// data-dir/member/wal/*.wal      DurableRaftLog (WAL segments)      etcd's layout
/// data-dir/member/snap/*.snap    raft snapshots
/// data-dir/member/snap/db        MVCC backend (SQLite instead of bbolt)
/// </code>
/// Single member only: there is no peer transport yet, so a larger --initial-cluster is refused.
/// Start order: backend, raft, wait for the leader and apply up to its commit, then the client
/// listeners. Stop order: listeners (in-flight calls finish within the grace period), raft
/// (pending proposals fail with "server stopped", applied state synced), backend.
/// </remarks>
public sealed class EtcdMember : IAsyncDisposable
{
    /// <summary>gRPC framing and headers around the largest request (etcd's grpcOverheadBytes).</summary>
    private const int GrpcOverheadBytes = 512 * 1024;

    private readonly EtcdMemberOptions _options;
    private readonly IStorageLog _log;
    private readonly MvccStore _store;
    private readonly RaftNodeHost _raft;
    private readonly GrpcServerHost _server;
    private readonly AutoCompactor? _compactor;
    private readonly MemberLeases _leases;
    private readonly Mvcc.Watch.WatchableStore _watchable;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopping; // 0 running, 1 stopping or stopped.

    private EtcdMember(EtcdMemberOptions options, MvccStore store, RaftNodeHost raft, GrpcServerHost server,
        AlarmStore alarms, MetricsRegistry registry, AutoCompactor? compactor, MemberLeases leases, Mvcc.Watch.WatchableStore watchable)
    {
        _leases = leases;
        _watchable = watchable;
        _options = options;
        _log = options.Logger;
        _store = store;
        _raft = raft;
        _server = server;
        Alarms = alarms;
        Metrics = registry;
        _compactor = compactor;
    }

    public ulong MemberId => _raft.MemberId;

    public ulong ClusterId => _raft.ClusterId;

    /// <summary>The client URLs as bound (real ports for ":0").</summary>
    public IReadOnlyList<Uri> ClientUrls => _server.Urls;

    /// <summary>The raised alarms.</summary>
    public AlarmStore Alarms { get; }

    /// <summary>What /metrics serves.</summary>
    public MetricsRegistry Metrics { get; }

    /// <summary>The member's watchers (diagnostics in tests).</summary>
    internal Mvcc.Watch.WatchableStore Watchers => _watchable;

    /// <summary>The newest revision applied to the backend.</summary>
    public long CurrentRevision => _store.CurrentRevision;

    /// <summary>
    /// Completes when the member has stopped: after <see cref="StopAsync"/>, or faulted with the
    /// error (a failed fsync, a broken invariant) that stopped raft on its own.
    /// </summary>
    public Task Completion => _stopped.Task;

    /// <summary>Starts a member on its data dir (creating it, or restarting from what it holds) and returns once it serves.</summary>
    /// <exception cref="MemberStartException">The configuration cannot be served.</exception>
    public static async Task<EtcdMember> StartAsync(EtcdMemberOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        IStorageLog log = options.Logger;
        CheckSupported(options);
        log.Write(StorageLogLevel.Info, "configuring client listeners", ("listen-client-urls", options.ListenClientUrls.ToArray()));

        Directory.CreateDirectory(options.SnapDir);
        var opening = Stopwatch.StartNew();
        MvccStore store = MvccStore.Open(options.BackendPath);
        log.Write(StorageLogLevel.Info, "opened backend db", ("path", options.BackendPath), ("took", opening.Elapsed));
        RaftNodeHost? raft = null;
        GrpcServerHost? server = null;
        AutoCompactor? compactor = null;
        Mvcc.Watch.WatchableStore? watchable = null;
        MemberLeases? leases = null;
        try
        {
            watchable = new Mvcc.Watch.WatchableStore(store, new Mvcc.Watch.WatchableStoreOptions
            {
                ProgressNotifyInterval = options.WatchProgressNotifyInterval,
                TimeProvider = options.TimeProvider,
            });
            AlarmStore alarms = AlarmStore.Load(store);
            InitialCluster cluster = InitialCluster.Create(options.InitialClusterToken, options.EffectiveInitialCluster, options.InitialClusterStateNew);
            // The lessor is restored before raft replays the WAL (etcd recovers it before the KV).
            Lessor lessor = Lessor.Open(store, Lessor.MinTtlFor(options.ElectionTicks, options.HeartbeatInterval), log);
            var target = new MemberApplyTarget(store, alarms, log, MemberIds.ToHex(cluster.ClusterId), lessor, watchable);
            var registry = new MetricsRegistry();
            lessor.Metrics = LeaseMetrics.Register(registry);
            // etcd's mvcc watch gauges (mvcc/metrics.go), read at each scrape.
            Mvcc.Watch.WatchableStore watchers = watchable;
            registry.GaugeFunc("etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.", () => watchers.StreamCount);
            registry.GaugeFunc("etcd_debugging_mvcc_watcher_total", "Total number of watchers.", () => watchers.WatcherCount);
            registry.GaugeFunc("etcd_debugging_mvcc_slow_watcher_total", "Total number of unsynced slow watchers.", () => watchers.UnsyncedCount);
            EtcdMetrics? etcdMetrics = null;
            target.OnCommit = duration => etcdMetrics?.BackendCommitDurations.Observe(duration.TotalSeconds);
            raft = RaftNodeHost.Start(new RaftNodeOptions
            {
                Log = new DurableRaftLogOptions
                {
                    WalDir = options.EffectiveWalDir,
                    SnapDir = options.SnapDir,
                    SnapshotCount = options.SnapshotCount,
                    Wal = new WalOptions { Log = log },
                },
                Name = options.Name,
                InitialCluster = cluster,
                HeartbeatInterval = options.HeartbeatInterval,
                ElectionTicks = options.ElectionTicks,
                MaxRequestBytes = options.MaxRequestBytes,
                TimeProvider = options.TimeProvider,
                Random = options.Random,
                RaftLogger = options.RaftLogger,
                Logger = log,
            }, target);
            target.MemberId = raft.MemberId;
            etcdMetrics = EtcdMetrics.Register(registry, EtcdMetricSources.From(raft, store, options.QuotaBackendBytes ?? MemberConfigDefaults.QuotaBackendBytes));

            leases = StartLeases(options, raft, lessor);
            server = BuildServer(options, raft, store, alarms, registry, etcdMetrics, lessor, leases, watchable);
            await WaitUntilPublishedAsync(raft, options, cancellationToken).ConfigureAwait(false);
            await server.StartAsync(cancellationToken).ConfigureAwait(false);
            foreach (Uri url in server.Urls)
            {
                if (url.Scheme == "http")
                {
                    log.Write(StorageLogLevel.Info, "serving client traffic insecurely; this is strongly discouraged!", ("address", url.Authority));
                }
                else
                {
                    log.Write(StorageLogLevel.Info, "serving client traffic securely", ("address", url.Authority));
                }
            }

            compactor = StartCompactor(options, raft, store);
            var member = new EtcdMember(options, store, raft, server, alarms, registry, compactor, leases, watchable);
            member.WatchRaft();
            log.Write(StorageLogLevel.Info, "ready to serve client requests");
            return member;
        }
        catch (Exception e)
        {
            if (compactor is not null)
            {
                await compactor.DisposeAsync().ConfigureAwait(false);
            }

            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }

            if (leases is not null)
            {
                await leases.DisposeAsync().ConfigureAwait(false);
            }

            if (raft is not null)
            {
                await raft.StopAsync().ConfigureAwait(false);
            }

            watchable?.Dispose();
            store.Dispose();
            if (e is IOException && e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                throw new MemberStartException(e.Message, e);
            }

            throw;
        }
    }

    /// <summary>
    /// Stops gracefully: no new connections, in-flight calls get the grace period, then pending
    /// proposals fail with "etcdserver: server stopped", the applied state is synced and the WAL
    /// and backend are closed.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            await _stopped.Task.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            return;
        }

        Exception? failure = null;
        try
        {
            if (_compactor is not null)
            {
                await _compactor.DisposeAsync().ConfigureAwait(false);
            }

            await _server.StopAsync(_options.StopGracePeriod).ConfigureAwait(false);
            await _server.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
        }

        await _leases.DisposeAsync().ConfigureAwait(false);
        await _raft.StopAsync().ConfigureAwait(false);
        _watchable.Dispose();
        _store.Dispose();
        failure ??= _raft.Completion.Exception?.InnerException;
        if (failure is not null)
        {
            _stopped.TrySetException(failure);
        }
        else
        {
            _stopped.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Completion carries the failure; disposing must not throw.
        }
    }

    // A raft loop that stops on its own (fsync failed, invariant broken) takes the member down.
    private void WatchRaft() => _raft.Completion.ContinueWith(async _ =>
    {
        if (Volatile.Read(ref _stopping) == 0)
        {
            await StopAsync().ConfigureAwait(false);
        }
    }, TaskScheduler.Default);

    private static void CheckSupported(EtcdMemberOptions options)
    {
        if (options.EffectiveInitialCluster.Count > 1)
        {
            throw new MemberStartException(
                $"dotcd serves a single member only so far; --initial-cluster names {options.EffectiveInitialCluster.Count} members");
        }

        if (!options.InitialClusterStateNew && !Directory.Exists(options.EffectiveWalDir))
        {
            throw new MemberStartException("dotcd cannot join an existing cluster yet (--initial-cluster-state existing needs peers)");
        }

        foreach (string url in options.ListenClientUrls)
        {
            if (url.StartsWith("https://", StringComparison.Ordinal) && options.ClientTls is null)
            {
                throw new MemberStartException(
                    $"TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme");
            }

            if (!url.StartsWith("http://", StringComparison.Ordinal) && !url.StartsWith("https://", StringComparison.Ordinal))
            {
                throw new MemberStartException($"dotcd cannot listen on {url} yet (only http:// and https:// client URLs)");
            }
        }
    }

    // The leader's half of the lessor (etcd: minTTL, Promote's extension = the election timeout,
    // the expired-lease retry = the request timeout, checkpoints when enabled).
    private static MemberLeases StartLeases(EtcdMemberOptions options, RaftNodeHost raft, Lessor lessor)
    {
        TimeSpan electionTimeout = options.ElectionTicks * options.HeartbeatInterval;
        TimeSpan requestTimeout = TimeSpan.FromSeconds(5) + 2 * electionTimeout;
        var expiryOptions = new LeaseExpiryOptions
        {
            ExtendOnPromote = electionTimeout,
            RetryInterval = requestTimeout,
            CheckpointInterval = options.EnableLeaseCheckpoint ? options.LeaseCheckpointInterval : null,
        };
        return MemberLeases.Start(lessor, raft, new RaftNodeAdapter(raft), expiryOptions, options.TimeProvider, requestTimeout, options.Logger);
    }

    private static GrpcServerHost BuildServer(EtcdMemberOptions options, RaftNodeHost raft, MvccStore store, AlarmStore alarms,
        MetricsRegistry registry, EtcdMetrics etcdMetrics, Lessor lessor, MemberLeases leases, Mvcc.Watch.WatchableStore watchable)
    {
        GrpcServerHostBuilder builder = GrpcServerHost.CreateBuilder();
        builder.Options.MaxReceiveMessageBytes = options.MaxRequestBytes + GrpcOverheadBytes;
        GrpcTlsOptions? tls = options.ClientTls is { } clientTls ? LoadTls(clientTls) : null;
        foreach (string url in options.ListenClientUrls)
        {
            builder.Listen(url, url.StartsWith("https://", StringComparison.Ordinal) ? tls : null);
        }

        var members = new StaticClusterMembers(
        [
            new Api.Etcdserverpb.Member
            {
                ID = raft.MemberId,
                Name = options.Name,
                PeerURLs = { options.InitialAdvertisePeerUrls },
                ClientURLs = { options.AdvertiseClientUrls },
            },
        ]);
        var state = new RaftNodeAdapter(raft);
        EtcdServices services = builder.AddEtcdServices(new EtcdServiceOptions
        {
            Member = state,
            Consensus = new QuotaConsensus(raft, () => store.SizeBytes, options.QuotaBackendBytes),
            Kv = new KvApplierReader(new Apply.KvApplier(lessor), store),
            Leases = leases,
            Backend = new MvccBackendAdapter(store),
            Watch = watchable,
            MaxRequestBytes = options.MaxRequestBytes,
            LeaderCheckInterval = options.ElectionTicks * options.HeartbeatInterval,
            Alarms = alarms,
            Cluster = members,
            MaxTxnOps = options.MaxTxnOps,
            QuotaBackendBytes = options.QuotaBackendBytes ?? MemberConfigDefaults.QuotaBackendBytes,
            Registry = registry,
        });
        builder.MapEtcdHttpEndpoints(new HttpEndpointOptions
        {
            Health = services.Health,
            Registry = registry,
            Metrics = etcdMetrics,
            RequestTimeout = TimeSpan.FromSeconds(5) + 2 * options.ElectionTicks * options.HeartbeatInterval,
        });
        return builder.Build();
    }

    private static GrpcTlsOptions LoadTls(ClientTls tls)
    {
        try
        {
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(tls.CertFile, tls.KeyFile);
            // Kestrel on Linux needs the key in a PKCS#12 container, not an ephemeral PEM key.
            var options = new GrpcTlsOptions
            {
                ServerCertificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null),
                ClientCertificateMode = tls.ClientCertAuth ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.NoCertificate,
            };
            if (tls.TrustedCaFile.Length > 0)
            {
                var authorities = new X509Certificate2Collection();
                authorities.ImportFromPemFile(tls.TrustedCaFile);
                options.TrustedClientCertificateAuthorities = authorities;
            }

            return options;
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
        {
            throw new MemberStartException($"cannot load the client TLS certificate: {e.Message}", e);
        }
    }

    // etcd serves clients once it has published itself through raft; a single member elects
    // itself at once, and the linearizable barrier applies everything the WAL replayed.
    private static async Task WaitUntilPublishedAsync(RaftNodeHost raft, EtcdMemberOptions options, CancellationToken cancellationToken)
    {
        await raft.WaitForLeaderAsync(cancellationToken).ConfigureAwait(false);
        await raft.WaitLinearizableAsync(cancellationToken).ConfigureAwait(false);
        IStorageLog log = options.Logger;
        string memberId = MemberIds.ToHex(raft.MemberId);
        string clusterId = MemberIds.ToHex(raft.ClusterId);
        log.Write(StorageLogLevel.Info, "published local member to cluster through raft",
            ("local-member-id", memberId),
            ("local-member-attributes", $"{{Name:{options.Name} ClientURLs:[{string.Join(' ', options.AdvertiseClientUrls)}]}}"),
            ("request-path", $"/0/members/{memberId}/attributes"),
            ("cluster-id", clusterId));
        log.Write(StorageLogLevel.Info, "enabled capabilities for version", ("cluster-version", EtcdVersion.ClusterMajorMinor));
        log.Write(StorageLogLevel.Info, "cluster version is updated", ("cluster-version", EtcdVersion.ClusterMajorMinor));
    }

    private static AutoCompactor? StartCompactor(EtcdMemberOptions options, RaftNodeHost raft, MvccStore store)
    {
        switch (options.AutoCompactionMode)
        {
            case AutoCompaction.Periodic when options.AutoCompactionPeriod > TimeSpan.Zero:
            {
                AutoCompactor compactor = AutoCompactor.ForRaft(raft, () => store.CurrentRevision, options.TimeProvider, options.Logger);
                compactor.StartPeriodic(options.AutoCompactionPeriod);
                options.Logger.Write(StorageLogLevel.Info, "auto compaction is enabled", ("mode", "periodic"),
                    ("compact-period", options.AutoCompactionPeriod));
                return compactor;
            }

            case AutoCompaction.Revision when options.AutoCompactionRevisions > 0:
            {
                AutoCompactor compactor = AutoCompactor.ForRaft(raft, () => store.CurrentRevision, options.TimeProvider, options.Logger);
                compactor.StartRevision(options.AutoCompactionRevisions);
                options.Logger.Write(StorageLogLevel.Info, "auto compaction is enabled", ("mode", "revision"),
                    ("revision-compaction-retention", options.AutoCompactionRevisions));
                return compactor;
            }

            default:
                return null;
        }
    }

    private static class MemberConfigDefaults
    {
        public const long QuotaBackendBytes = 2L * 1024 * 1024 * 1024;
    }
}
