using Dotcd.Api.Etcdserverpb;
using Dotcd.Raft;
using Dotcd.Server.RaftLoop;
using Dotcd.Storage;
using Google.Protobuf;

namespace Dotcd.Server.Tests.RaftLoop;

/// <summary>A fresh directory under /tmp, deleted with everything in it on Dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dotcd-raftloop-tests", Guid.NewGuid().ToString("N"));
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

/// <summary>
/// The apply target of these tests: a key-value map applied from InternalRaftRequest.Put entries,
/// whose state (map, revision, consistent index) reaches its file only when Persist or Sync runs,
/// like a backend whose commits are not all synced. "Killing" the member loses what was not persisted.
/// </summary>
internal sealed class FileKvTarget : IApplyTarget
{
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _map = new();
    private readonly List<ulong> _appliedIndexes = new();      // Every Normal entry index handed to ApplyEntries.
    private readonly List<IConfChange> _confChanges = new();
    private readonly List<ReadOnlyMemory<byte>> _confChangeContexts = new();
    private long _revision;
    private ulong _consistentIndex;

    public FileKvTarget(string path)
    {
        _path = path;
        if (File.Exists(path)) Load();
        ConsistentIndex = _consistentIndex;
    }

    /// <summary>Blocks ApplyEntries while reset (set by default), for at most Patience so a failed test cannot hang.</summary>
    public ManualResetEventSlim Gate { get; } = new(true);

    /// <summary>Called at the start of every ApplyEntries with the batch (on the apply thread).</summary>
    public Action<IReadOnlyList<Entry>>? OnApply { get; set; }

    public ulong ConsistentIndex { get; }

    public int SyncCount { get; private set; }

    public long Revision
    {
        get
        {
            lock (_lock) return _revision;
        }
    }

    public ulong CurrentConsistentIndex
    {
        get
        {
            lock (_lock) return _consistentIndex;
        }
    }

    public IReadOnlyList<ulong> AppliedIndexes
    {
        get
        {
            lock (_lock) return _appliedIndexes.ToArray();
        }
    }

    public IReadOnlyList<IConfChange> ConfChanges
    {
        get
        {
            lock (_lock) return _confChanges.ToArray();
        }
    }

    public IReadOnlyList<ReadOnlyMemory<byte>> ConfChangeContexts
    {
        get
        {
            lock (_lock) return _confChangeContexts.ToArray();
        }
    }

    public string? Get(string key)
    {
        lock (_lock) return _map.TryGetValue(key, out string? value) ? value : null;
    }

    public int Count
    {
        get
        {
            lock (_lock) return _map.Count;
        }
    }

    public void ApplyEntries(IReadOnlyList<Entry> entries, List<AppliedRequest> completed)
    {
        OnApply?.Invoke(entries);
        Gate.Wait(RaftLoopTest.Patience);
        lock (_lock)
        {
            foreach (Entry entry in entries)
            {
                _appliedIndexes.Add(entry.Index);
                _consistentIndex = entry.Index;
                if (entry.Data.IsEmpty) continue; // The leader's no-op.
                InternalRaftRequest request = InternalRaftRequest.Parser.ParseFrom(entry.Data.Span);
                ulong id = request.ID != 0 ? request.ID : request.Header?.ID ?? 0;
                if (request.Put is not { } put) continue;
                _revision++;
                _map[put.Key.ToStringUtf8()] = put.Value.ToStringUtf8();
                var response = new PutResponse { Header = new ResponseHeader { Revision = _revision } };
                if (id != 0) completed.Add(new AppliedRequest(id, new ApplyResult { Response = response }));
            }
        }
    }

    public ConfChangeDecision ApplyConfChange(Entry entry, IConfChange change)
    {
        lock (_lock)
        {
            if (entry.Index > _consistentIndex)
            {
                _consistentIndex = entry.Index;
                _confChanges.Add(change);
                _confChangeContexts.Add(change.AsV1()?.Context ?? ReadOnlyMemory<byte>.Empty);
            }
        }
        return new ConfChangeDecision(true, new ApplyResult { Value = "members" });
    }

    public void ApplySnapshot(Snapshot snapshot) => throw new NotSupportedException("a single member never receives a snapshot");

    public void Sync()
    {
        Persist();
        lock (_lock) SyncCount++;
    }

    // File: [consistent index u64][revision i64][count i32] then per key [key string][value string]
    // (BinaryWriter strings: 7-bit length prefix, UTF-8). Written to a temp file, synced, renamed.
    public void Persist()
    {
        lock (_lock)
        {
            string tmp = _path + ".tmp";
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            using (var writer = new BinaryWriter(stream))
            {
                writer.Write(_consistentIndex);
                writer.Write(_revision);
                writer.Write(_map.Count);
                foreach ((string key, string value) in _map)
                {
                    writer.Write(key);
                    writer.Write(value);
                }
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, _path, overwrite: true);
        }
    }

    private void Load()
    {
        using var reader = new BinaryReader(File.OpenRead(_path));
        _consistentIndex = reader.ReadUInt64();
        _revision = reader.ReadInt64();
        int count = reader.ReadInt32();
        for (int i = 0; i < count; i++) _map[reader.ReadString()] = reader.ReadString();
    }
}

/// <summary>A network that loses every message: the other members are down or partitioned away.</summary>
internal sealed class LosingTransport : IPeerTransport
{
    private int _sent;

    public int Sent => Volatile.Read(ref _sent);

    public void Send(IReadOnlyList<Message> messages) => Interlocked.Add(ref _sent, messages.Count);
}

internal static class RaftLoopTest
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static RaftNodeOptions Options(TempDir dir, InitialCluster? cluster = null, string name = "default",
        Action<TimeSpan>? onFsync = null, ulong snapshotCount = 100_000, ulong catchUpEntries = 5_000, long segmentBytes = 64 * 1024) => new()
    {
        Log = new DurableRaftLogOptions
        {
            WalDir = dir.Sub("member/wal"),
            SnapDir = dir.Sub("member/snap"),
            SnapshotCount = snapshotCount,
            CatchUpEntries = catchUpEntries,
            Wal = new WalOptions { SegmentSizeBytes = segmentBytes, OnFsync = onFsync },
        },
        Name = name,
        InitialCluster = cluster ?? SingleMember(),
        HeartbeatInterval = TimeSpan.FromMilliseconds(10),
        ElectionTicks = 5,
        Random = new SeededRaftRandom(42),
    };

    public static InitialCluster SingleMember(string name = "default", string peerUrl = "http://localhost:2380", string token = "etcd-cluster") =>
        InitialCluster.Create(token, [(name, (IReadOnlyList<string>)[peerUrl])]);

    /// <summary>An encoded InternalRaftRequest holding a Put, as the KV service would propose it.</summary>
    public static byte[] Put(string key, string value) =>
        new InternalRaftRequest
        {
            Put = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value) },
        }.ToByteArray();

    public static long RevisionOf(ApplyResult result) => ((PutResponse)result.Response!).Header.Revision;

    public static async Task<RaftNodeHost> StartLeaderAsync(RaftNodeOptions options, IApplyTarget target)
    {
        RaftNodeHost host = RaftNodeHost.Start(options, target);
        using var timeout = new CancellationTokenSource(Patience);
        await host.WaitForLeaderAsync(timeout.Token);
        return host;
    }

    /// <summary>Polls (every 5 ms) until condition holds; fails the test after Patience.</summary>
    public static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(5);
        }
    }
}
