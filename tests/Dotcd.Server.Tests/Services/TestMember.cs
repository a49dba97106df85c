using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Mvcc;
using Dotcd.Raft;
using Dotcd.Server.Apply;
using Dotcd.Server.Http;
using Dotcd.Server.Metrics;
using Dotcd.Server.RaftLoop;
using Dotcd.Server.Services;
using Dotcd.Storage;
using Google.Protobuf;
using PbMember = Dotcd.Api.Etcdserverpb.Member; // Dotcd.Server.Tests.Member is a namespace.
using RaftApplyResult = Dotcd.Server.RaftLoop.ApplyResult;

namespace Dotcd.Server.Tests.Services;

/// <summary>A fresh directory, deleted with its contents on Dispose.</summary>
internal sealed class ServicesTempDir : IDisposable
{
    public ServicesTempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dotcd-services-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

internal sealed class NoLeases : ILeaseLookup
{
    public bool Exists(long leaseId) => false;
}

/// <summary>
/// The glue the member's wiring will provide, written here so the services run on real parts:
/// applies committed InternalRaftRequests with the Apply layer's KvApplier to the real MVCC
/// store, one backend batch per run of entries. Alarms are kept in a list (there is no alarm
/// store yet) so that Alarm GET/ACTIVATE/DEACTIVATE answer as etcd's would.
/// </summary>
internal sealed class MvccApplyTarget(MvccStore store, KvApplier applier) : IApplyTarget, IAlarmList
{
    private readonly Lock _alarmLock = new();
    private readonly List<AlarmMember> _alarms = [];

    public ulong ConsistentIndex { get; } = store.ConsistentIndex;

    public IReadOnlyList<AlarmMember> Alarms()
    {
        lock (_alarmLock)
        {
            return _alarms.Select(a => a.Clone()).ToArray();
        }
    }

    public void ApplyEntries(IReadOnlyList<Entry> entries, List<AppliedRequest> completed)
    {
        var results = new List<AppliedRequest>();
        using MvccStore.WriteBatch batch = store.BeginBatch();
        foreach (Entry entry in entries)
        {
            if (entry.Data.IsEmpty)
            {
                continue; // A new leader's empty entry.
            }

            InternalRaftRequest request = InternalRaftRequest.Parser.ParseFrom(entry.Data.Span);
            ulong id = request.ID != 0 ? request.ID : request.Header?.ID ?? 0;
            RaftApplyResult result = Apply(batch, request);
            if (id != 0)
            {
                results.Add(new AppliedRequest(id, result));
            }
        }

        batch.SetConsistentIndex(entries[^1].Index);
        batch.Commit(); // Published to readers before any proposer is answered.
        completed.AddRange(results);
    }

    private RaftApplyResult Apply(MvccStore.WriteBatch batch, InternalRaftRequest request)
    {
        if (request.Put is { } put)
        {
            return Result(applier.Put(batch, put));
        }

        if (request.DeleteRange is { } delete)
        {
            return Result(applier.DeleteRange(batch, delete));
        }

        if (request.Txn is { } txn)
        {
            return Result(applier.Txn(batch, txn));
        }

        if (request.Compaction is { } compaction)
        {
            CompactApplyResult compacted = applier.Compact(batch, compaction);
            return new RaftApplyResult { Response = compacted.Response, Error = compacted.Error?.ToException(), Physical = compacted.Physical };
        }

        if (request.Alarm is { } alarm)
        {
            return new RaftApplyResult { Response = ApplyAlarm(alarm) };
        }

        return new RaftApplyResult { Error = new InvalidOperationException("the test member applies only KV and alarm requests") };
    }

    private AlarmResponse ApplyAlarm(AlarmRequest request)
    {
        var response = new AlarmResponse { Header = new ResponseHeader() };
        lock (_alarmLock)
        {
            var member = new AlarmMember { MemberID = request.MemberID, Alarm = request.Alarm };
            switch (request.Action)
            {
                case AlarmRequest.Types.AlarmAction.Get:
                    response.Alarms.AddRange(_alarms.Where(a => request.Alarm == AlarmType.None || a.Alarm == request.Alarm).Select(a => a.Clone()));
                    break;
                case AlarmRequest.Types.AlarmAction.Activate:
                    if (!_alarms.Contains(member))
                    {
                        _alarms.Add(member);
                    }

                    response.Alarms.Add(member);
                    break;
                case AlarmRequest.Types.AlarmAction.Deactivate:
                    if (_alarms.Remove(member))
                    {
                        response.Alarms.Add(member);
                    }

                    break;
            }
        }

        return response;
    }

    private static RaftApplyResult Result<T>(ApplyResult<T> result) where T : class, IMessage =>
        new() { Response = result.Response, Error = result.Error?.ToException() };

    public ConfChangeDecision ApplyConfChange(Entry entry, IConfChange change) => new(true, null);

    public void ApplySnapshot(Dotcd.Raft.Snapshot snapshot) => throw new NotSupportedException("a single member never receives a snapshot");

    public void Sync() => store.Sync();
}

/// <summary>
/// A whole single member on loopback: the real raft loop (WAL on disk), the real MVCC store and
/// KV applier, the etcd services and HTTP endpoints on a GrpcServerHost at 127.0.0.1:0.
/// </summary>
internal sealed class TestMember : IAsyncDisposable
{
    private readonly ServicesTempDir _dir;

    private TestMember(ServicesTempDir dir, MvccStore store, RaftNodeHost raft, GrpcServerHost host, MvccApplyTarget target,
        MetricsRegistry registry)
    {
        _dir = dir;
        Store = store;
        Raft = raft;
        Host = host;
        Target = target;
        Registry = registry;
        Url = host.Urls[0];
        Endpoint = $"{Url.Host}:{Url.Port}";
        Channel = GrpcChannel.Create(Url.ToString());
    }

    public MvccStore Store { get; }

    public RaftNodeHost Raft { get; }

    public GrpcServerHost Host { get; }

    public MvccApplyTarget Target { get; }

    public MetricsRegistry Registry { get; }

    public Uri Url { get; }

    /// <summary>"127.0.0.1:port", as etcdctl's --endpoints takes it.</summary>
    public string Endpoint { get; }

    public GrpcChannel Channel { get; }

    public static async Task<TestMember> StartAsync()
    {
        var dir = new ServicesTempDir();
        try
        {
            return await StartInAsync(dir);
        }
        catch
        {
            dir.Dispose(); // What did start is collected with the test process; the files go now.
            throw;
        }
    }

    private static async Task<TestMember> StartInAsync(ServicesTempDir dir)
    {
        Directory.CreateDirectory(dir.Sub("member/snap"));
        MvccStore store = MvccStore.Open(dir.Sub("member/snap/db")); // Where etcd keeps its backend.
        var target = new MvccApplyTarget(store, new KvApplier(new NoLeases()));
        var options = new RaftNodeOptions
        {
            Log = new DurableRaftLogOptions
            {
                WalDir = dir.Sub("member/wal"),
                SnapDir = dir.Sub("member/snap"),
                Wal = new WalOptions { SegmentSizeBytes = 1024 * 1024 },
            },
            InitialCluster = InitialCluster.Create("etcd-cluster", [("default", (IReadOnlyList<string>)["http://localhost:2380"])]),
            HeartbeatInterval = TimeSpan.FromMilliseconds(10),
            ElectionTicks = 5,
            Random = new SeededRaftRandom(7),
        };
        RaftNodeHost raft = RaftNodeHost.Start(options, target);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            await raft.WaitForLeaderAsync(timeout.Token);
        }

        var registry = new MetricsRegistry();
        EtcdMetrics metrics = EtcdMetrics.Register(registry, EtcdMetricSources.From(raft, store));
        var adapter = new RaftNodeAdapter(raft);
        var members = new SettableMembers();
        GrpcServerHostBuilder builder = GrpcServerHost.CreateBuilder().Listen("http://127.0.0.1:0");
        EtcdServices services = builder.AddEtcdServices(new EtcdServiceOptions
        {
            Member = adapter,
            Consensus = adapter,
            Kv = new KvApplierReader(new KvApplier(new NoLeases()), store),
            Backend = new MvccBackendAdapter(store),
            Alarms = target,
            Cluster = members,
            Registry = registry,
        });
        builder.MapEtcdHttpEndpoints(new HttpEndpointOptions { Health = services.Health, Registry = registry, Metrics = metrics });
        GrpcServerHost host = builder.Build();
        await host.StartAsync();
        var member = new TestMember(dir, store, raft, host, target, registry);
        members.Set(new PbMember
        {
            ID = raft.MemberId,
            Name = "default",
            PeerURLs = { "http://localhost:2380" },
            ClientURLs = { member.Url.ToString().TrimEnd('/') },
        });
        return member;
    }

    /// <summary>The member list names the client URL, known only once the server listens.</summary>
    private sealed class SettableMembers : IClusterMembers
    {
        private volatile PbMember[] _members = [];

        public void Set(params PbMember[] members) => _members = members;

        public IReadOnlyList<PbMember> Members() => _members;
    }

    public async Task<TResponse> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
        GrpcMetadata? headers = null) where TResponse : IMessage<TResponse>
    {
        byte[] reply = await Channel.UnaryAsync(method, request.ToByteArray(),
            new CallOptions { Timeout = TimeSpan.FromSeconds(20), Headers = headers });
        return parser.ParseFrom(reply);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Host.DisposeAsync();
        await Raft.StopAsync();
        Raft.Dispose();
        Store.Dispose();
        _dir.Dispose();
    }
}
