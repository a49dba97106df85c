using System.Collections.Concurrent;
using System.Threading.Channels;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Raft;
using Dotcd.Storage;
using Google.Protobuf;

namespace Dotcd.Server.RaftLoop;

/// <summary>A leader change as the raft thread saw it (Leader 0: no leader known).</summary>
public readonly record struct LeaderChange(ulong Leader, ulong Term, bool IsLeader);

/// <summary>A consistent-enough view of the engine for Status, headers and metrics.</summary>
public sealed record RaftNodeStatus(
    ulong MemberId,
    ulong ClusterId,
    ulong Leader,
    bool IsLeader,
    ulong Term,
    ulong AppliedTerm,
    ulong CommittedIndex,
    ulong AppliedIndex);

/// <summary>
/// A member's consensus engine (etcd's raftNode plus the proposal, apply and read parts of
/// EtcdServer): owns the RawNode and the DurableRaftLog and runs two dedicated threads.
/// </summary>
/// <remarks>
/// <code>
///  ProposeAsync ─┐ bounded                 ┌─ IPeerTransport.Send (after the Ready is durable)
///  StepAsync ────┼──────────► raft thread ─┤
///  read loop ────┘  tick timer   │  Save(Ready): one fdatasync
///                                ▼ bounded ApplyQueue
///                           apply thread ── IApplyTarget (one transaction per run of entries)
///                                │         completes waiters, moves applied, asks the raft
///                                └────────► thread for conf changes and snapshots
/// </code>
/// The raft thread is the only one that touches the RawNode and the DurableRaftLog. A client is
/// answered only after its entry is durable (on a quorum) and applied. Any IO or invariant
/// failure stops the member: Completion faults and every waiter fails with "server stopped".
/// </remarks>
public sealed partial class RaftNodeHost : IDisposable
{
    private const int MaxInputsPerIteration = 1024; // Bounds one loop turn so ticks and Readies keep flowing.

    private readonly RaftNodeOptions _options;
    private readonly IApplyTarget _target;
    private readonly IPeerTransport _transport;
    private readonly DurableRaftLog _log;       // Raft thread only (after Start).
    private readonly RawNode _node;            // Raft thread only (after Start).
    private readonly TimeProvider _time;
    private readonly IStorageLog _logger;
    private readonly RequestIdGenerator _ids;
    private readonly Thread _raftThread;
    private readonly Thread _applyThread;
    private readonly AutoResetEvent _wake = new(false); // The raft thread's only blocking point; every input sets it.
    private ITimer? _ticker;
    private int _tickPending;                  // 0 or 1: a late loop drops ticks, as Go's ticker does.

    // Inputs of the raft thread.
    private readonly Channel<PendingProposal> _proposals;
    private readonly Channel<Message> _peerMessages;
    private readonly ConcurrentQueue<Action<RawNode>> _localInputs = new();   // Reads, reports, transfers: few and small.
    private readonly ConcurrentQueue<ConfChangeRequest> _confChangeRequests = new();
    private readonly ConcurrentQueue<SnapshotRequest> _snapshotRequests = new();
    private int _raftWaitsForApply;            // 1 while the raft thread waits on the apply thread: wake it on progress.

    // Raft thread -> apply thread.
    private readonly ApplyQueue _applyQueue;
    private readonly ConcurrentDictionary<ulong, PendingProposal> _waiters = new();
    private readonly AppliedIndexWait _appliedWait = new();

    // Published state: one writer each, any reader.
    private ulong _lead;                       // Raft thread.
    private int _isLeader;                     // Raft thread.
    private ulong _term;                       // Raft thread: term of the last persisted HardState.
    private ulong _committedIndex;             // Raft thread: last committed index handed to the apply thread.
    private ulong _appliedIndex;               // Apply thread. Invariant: _appliedIndex <= _committedIndex (after startup replay).
    private ulong _appliedTerm;                // Apply thread.
    private long _leadElectedTimestamp;        // Raft thread: when this member last became a new leader (TimeProvider timestamp).
    private ConfState _confState;              // Apply thread: raft's configuration as of _appliedIndex.
    private TaskCompletionSource _leaderChangedSignal = NewSignal(); // Completed and replaced on every new leader.

    // Stopping.
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _stopRequested;                // 0 running, 1 stop requested.
    private volatile bool _gracefulStop;       // Drain queued committed entries and Sync before stopping.
    private Exception? _fatal;
    private int _threadsRunning = 2;
    private Task _readLoop = Task.CompletedTask;

    private RaftNodeHost(RaftNodeOptions options, IApplyTarget target, IPeerTransport transport, DurableRaftLog log,
        RawNode node, ulong memberId, ulong clusterId, RaftMetrics metrics)
    {
        Metrics = metrics;
        _options = options;
        _target = target;
        _transport = transport;
        _log = log;
        _node = node;
        _time = options.TimeProvider;
        _logger = options.Logger;
        MemberId = memberId;
        ClusterId = clusterId;
        _ids = new RequestIdGenerator(memberId, _time.GetUtcNow());
        _proposals = Channel.CreateBounded<PendingProposal>(new BoundedChannelOptions(options.ProposalQueueCapacity)
        {
            SingleReader = false, // The raft thread, and a stop failing what is still queued.
            FullMode = BoundedChannelFullMode.Wait,
        });
        _peerMessages = Channel.CreateBounded<Message>(new BoundedChannelOptions(options.PeerMessageQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _readWaitSignal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        _readStates = Channel.CreateBounded<ReadState>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
        _applyQueue = new ApplyQueue(options.ApplyQueueEntries, options.ApplyQueueBytes);

        Snapshot snapshot = log.Snapshot;
        _appliedIndex = snapshot.Metadata.Index;
        _appliedTerm = snapshot.Metadata.Term;
        _committedIndex = Math.Max(snapshot.Metadata.Index, log.HardState.Commit);
        _term = log.HardState.Term;
        _confState = snapshot.Metadata.ConfState;
        _snapshotIndex = snapshot.Metadata.Index;
        _consistentIndexAtStart = target.ConsistentIndex;

        _raftThread = new Thread(RunRaftThread) { Name = "dotcd-raft", IsBackground = true };
        _applyThread = new Thread(RunApplyThread) { Name = "dotcd-apply", IsBackground = true };
    }

    /// <summary>This member's ID (etcd's, from the peer URLs and cluster token).</summary>
    public ulong MemberId { get; }

    public ulong ClusterId { get; }

    /// <summary>The current leader's ID, 0 when none is known.</summary>
    public ulong Leader => Volatile.Read(ref _lead);

    public bool IsLeader => Volatile.Read(ref _isLeader) != 0;

    /// <summary>Raft's current term (of the last persisted HardState).</summary>
    public ulong Term => Volatile.Read(ref _term);

    /// <summary>The term of the last applied entry: etcd's header raft_term.</summary>
    public ulong AppliedTerm => Volatile.Read(ref _appliedTerm);

    /// <summary>The highest committed index handed to the apply loop (etcd's raft_index in Status).</summary>
    public ulong CommittedIndex => Volatile.Read(ref _committedIndex);

    /// <summary>The last applied index (etcd's raft_applied_index).</summary>
    public ulong AppliedIndex => Volatile.Read(ref _appliedIndex);

    /// <summary>Raft's voters and learners as of the applied index.</summary>
    public ConfState ConfState => Volatile.Read(ref _confState);

    public RaftMetrics Metrics { get; }

    /// <summary>Completes when both loops have ended and the WAL is closed; faults with the error that stopped the member.</summary>
    public Task Completion => _completion.Task;

    /// <summary>
    /// Raised on the raft thread whenever the leader or this member's role changes, after the
    /// HardState of that Ready is durable. Handlers must be quick, must not block and must not
    /// call Dispose (it waits for the raft thread); an exception from one is logged and ignored.
    /// </summary>
    public event Action<LeaderChange>? LeaderChanged;

    /// <summary>A snapshot of the published state.</summary>
    public RaftNodeStatus GetStatus() =>
        new(MemberId, ClusterId, Leader, IsLeader, Term, AppliedTerm, CommittedIndex, AppliedIndex);

    /// <summary>A fresh unique ID from etcd's generator (request IDs, lease IDs).</summary>
    public ulong NextRequestId() => _ids.Next();

    /// <summary>
    /// Starts a member: a restart when the WAL exists (raft state from the WAL and snapshot, the
    /// member and cluster IDs from the WAL metadata), otherwise a new member of
    /// options.InitialCluster (bootstrapped when the cluster state is new).
    /// </summary>
    public static RaftNodeHost Start(RaftNodeOptions options, IApplyTarget target, IPeerTransport? transport = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(target);
        options.Validate();

        var metrics = new RaftMetrics();
        Action<TimeSpan>? userHook = options.Log.Wal.OnFsync;
        DurableRaftLogOptions logOptions = options.Log with
        {
            Wal = options.Log.Wal with
            {
                OnFsync = duration =>
                {
                    metrics.WalFsyncDurations.Observe(duration);
                    userHook?.Invoke(duration);
                },
            },
        };

        bool restart = DurableRaftLog.Exists(logOptions);
        DurableRaftLog log;
        ulong memberId;
        ulong clusterId;
        InitialCluster? bootstrap = null;
        if (restart)
        {
            log = DurableRaftLog.Open(logOptions);
            Metadata metadata = Metadata.Parser.ParseFrom(log.Metadata.Span);
            memberId = metadata.NodeID;
            clusterId = metadata.ClusterID;
        }
        else
        {
            InitialCluster cluster = options.InitialCluster
                ?? throw new InvalidOperationException("a new member needs an initial cluster (no WAL found)");
            InitialMember self = cluster.MemberByName(options.Name)
                ?? throw new InvalidOperationException($"couldn't find local name \"{options.Name}\" in the initial cluster configuration");
            memberId = self.Id;
            clusterId = cluster.ClusterId;
            var metadata = new Metadata { NodeID = memberId, ClusterID = clusterId };
            log = DurableRaftLog.Create(logOptions, metadata.ToByteArray());
            if (cluster.IsNew) bootstrap = cluster;
        }

        try
        {
            ulong consistentIndex = target.ConsistentIndex;
            if (consistentIndex < log.Snapshot.Metadata.Index)
            {
                // The snapshot let WAL segments go only after the backend synced past its index.
                throw new InvalidOperationException(
                    $"backend consistent index {consistentIndex} is below the raft snapshot index {log.Snapshot.Metadata.Index}: the backend lost applied data");
            }

            // Applied stays at the snapshot index (etcd does not pass the backend's index to raft):
            // raft replays every committed entry after the snapshot, so conf changes rebuild its
            // configuration; the apply loop skips Normal entries the backend already holds.
            var config = new RaftConfig
            {
                Id = memberId,
                ElectionTick = options.ElectionTicks,
                HeartbeatTick = 1,
                Storage = log.Storage,
                MaxSizePerMsg = 1024 * 1024,
                MaxInflightMsgs = 4096 / 8,
                CheckQuorum = true,
                PreVote = options.PreVote,
                Random = options.Random ?? new SeededRaftRandom((ulong)System.Random.Shared.NextInt64()),
                Logger = options.RaftLogger,
            };
            var node = new RawNode(config);
            if (bootstrap is not null)
            {
                var peers = new Peer[bootstrap.Members.Count];
                for (int i = 0; i < peers.Length; i++)
                {
                    InitialMember m = bootstrap.Members[i];
                    peers[i] = new Peer(m.Id, MemberIds.EncodeMemberContext(m.Id, m.PeerUrls, m.Name));
                }
                node.Bootstrap(peers);
            }

            options.Logger.Write(StorageLogLevel.Info, restart ? "restarting local member" : "starting local member",
                ("local-member-id", MemberIds.ToHex(memberId)), ("cluster-id", MemberIds.ToHex(clusterId)),
                ("commit-index", log.HardState.Commit), ("consistent-index", consistentIndex));

            var host = new RaftNodeHost(options, target, transport ?? NoPeerTransport.Instance, log, node, memberId, clusterId, metrics);
            host.StartThreads();
            return host;
        }
        catch
        {
            log.Dispose();
            throw;
        }
    }

    private void StartThreads()
    {
        _readLoop = Task.Run(RunReadLoopAsync); // First: the threads' exit path chains onto it.
        _applyThread.Start();
        _raftThread.Start();
        _ticker = _time.CreateTimer(static state =>
        {
            var host = (RaftNodeHost)state!;
            Volatile.Write(ref host._tickPending, 1);
            host.WakeRaft();
        }, this, _options.HeartbeatInterval, _options.HeartbeatInterval);
    }

    /// <summary>
    /// Waits for the queued committed entries to be applied, makes the backend durable, then
    /// stops; proposals not yet committed fail with "server stopped".
    /// </summary>
    public Task StopAsync()
    {
        _gracefulStop = true;
        RequestStop(null);
        return _completion.Task.ContinueWith(static _ => { }, CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// Stops at once, like a killed process would: waiters fail with "server stopped", queued
    /// committed entries are dropped (the WAL replays them at restart) and the backend is not
    /// synced. Blocks until both threads have left (an apply call in progress finishes first).
    /// </summary>
    public void Dispose()
    {
        RequestStop(null);
        try
        {
            _completion.Task.Wait();
        }
        catch (AggregateException)
        {
            // A fatal error already reached Completion; Dispose itself must not throw.
        }
    }

    private void RequestStop(Exception? fatal)
    {
        if (fatal is not null)
        {
            Interlocked.CompareExchange(ref _fatal, fatal, null);
            _gracefulStop = false;
            _logger.Write(StorageLogLevel.Error, "stopping the member after a fatal error", ("error", fatal.Message));
        }
        if (Interlocked.Exchange(ref _stopRequested, 1) != 0) return;

        _ticker?.Dispose();
        _stopping.Cancel();
        _proposals.Writer.TryComplete();
        _peerMessages.Writer.TryComplete();
        FailQueuedProposals();
        if (!_gracefulStop)
        {
            // Answer nobody from here on: what is not applied now is replayed from the WAL.
            FailAllWaiters();
            _applyQueue.Close();
        }
        WakeRaft();
    }

    // Runs on whichever loop thread leaves last: nothing else touches the log any more.
    private void ThreadLeft()
    {
        if (Interlocked.Decrement(ref _threadsRunning) != 0) return;
        FailAllWaiters();
        FailQueuedProposals();
        _appliedWait.Stop(EtcdServerError.Stopped.ToException());
        try
        {
            _log.Dispose();
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _fatal, e, null);
        }
        _ = _readLoop.ContinueWith(_ =>
        {
            _wake.Dispose();
            if (_fatal is { } error) _completion.TrySetException(error);
            else _completion.TrySetResult();
        }, TaskScheduler.Default);
    }

    private void FailAllWaiters()
    {
        foreach (KeyValuePair<ulong, PendingProposal> entry in _waiters)
        {
            if (_waiters.TryRemove(entry.Key, out PendingProposal? waiter)) waiter.Fail(EtcdServerError.Stopped);
        }
        FailReaders(EtcdServerError.Stopped);
    }

    private void FailQueuedProposals()
    {
        while (_proposals.Reader.TryRead(out PendingProposal? proposal))
        {
            _waiters.TryRemove(proposal.Id, out _);
            proposal.Fail(EtcdServerError.Stopped);
        }
    }

    private void ThrowIfStopped()
    {
        if (Volatile.Read(ref _stopRequested) != 0) throw EtcdServerError.Stopped.ToException();
    }

    private void WakeRaft()
    {
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // The raft thread is gone; nothing to wake.
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A proposal on its way through raft; the apply thread completes it by ID.</summary>
    private sealed class PendingProposal(ulong id, ReadOnlyMemory<byte> data, IConfChange? confChange)
    {
        public ulong Id { get; } = id;
        public ReadOnlyMemory<byte> Data { get; } = data;
        public IConfChange? ConfChange { get; } = confChange;

        /// <summary>The term this member proposed it in as leader (0: proposed as follower, or not yet).</summary>
        public ulong ProposedTerm;

        public TaskCompletionSource<ApplyResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool IsAbandoned => Completion.Task.IsCompleted;

        public void Fail(EtcdServerError error) => Completion.TrySetException(error.ToException());
    }

    /// <summary>The apply thread asks the raft thread to apply a committed conf change to the RawNode.</summary>
    private sealed class ConfChangeRequest(IConfChange change)
    {
        public IConfChange Change { get; } = change;
        public ConfState? Result;
        public ManualResetEventSlim Done { get; } = new(false);
    }

    private readonly record struct SnapshotRequest(ulong Index, ConfState ConfState);
}
