using Dotcd.Api.Etcdserverpb;
using Dotcd.Mvcc;
using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Services;

// The narrow views of a member the gRPC services and HTTP endpoints use. The wiring implements
// them over the raft loop (RaftNodeAdapter), the MVCC store (MvccBackendAdapter), the applier
// (IKvReader, IAlarmList) and membership (IClusterMembers). All members must be thread-safe:
// every call runs on its own task.

/// <summary>This member's identity and raft progress (response headers, Status, hasleader).</summary>
public interface IMemberState
{
    ulong MemberId { get; }

    ulong ClusterId { get; }

    /// <summary>The current leader's ID; 0 when no leader is known.</summary>
    ulong Leader { get; }

    /// <summary>
    /// The term headers and Status report as raft_term: etcd's Term(), which the apply loop sets
    /// to the term of the last applied entry.
    /// </summary>
    ulong Term { get; }

    /// <summary>The highest committed index (Status.raftIndex).</summary>
    ulong CommittedIndex { get; }

    /// <summary>The last applied index (Status.raftAppliedIndex).</summary>
    ulong AppliedIndex { get; }

    /// <summary>True while this member is a raft learner (it then serves only Status and serializable Range).</summary>
    bool IsLearner { get; }
}

/// <summary>Consensus: writes through raft, linearizable-read barriers, leader transfer.</summary>
public interface IConsensus
{
    /// <summary>
    /// Proposes an encoded etcdserverpb.InternalRaftRequest (the engine stamps header.ID) and
    /// returns what applying it produced, once applied. Fails with the engine's etcd errors
    /// (RaftLoop.EtcdServerException: too many requests, request too large, timed out, stopped).
    /// </summary>
    Task<ApplyResult> ProposeAsync(ReadOnlyMemory<byte> internalRaftRequest, CancellationToken cancellationToken);

    /// <summary>Completes once a local read reflects every write completed before the call (ReadIndex).</summary>
    Task WaitLinearizableAsync(CancellationToken cancellationToken);

    /// <summary>Hands leadership to transferee and waits until it leads (fails with not leader, bad leader transferee).</summary>
    Task MoveLeaderAsync(ulong transferee, CancellationToken cancellationToken);
}

/// <summary>
/// Reads served from this member's applied state (the applier's Range and read-only Txn).
/// Client errors (compacted, future revision) are thrown as exceptions that
/// <see cref="RpcErrors.ToStatus"/> understands, for example <see cref="Dotcd.Grpc.GrpcStatusException"/>.
/// </summary>
public interface IKvReader
{
    /// <summary>The store's current revision (headers of responses that carry none).</summary>
    long CurrentRevision { get; }

    RangeResponse Range(RangeRequest request);

    /// <summary>A Txn whose every op (both branches) is a Range: evaluated locally, no proposal.</summary>
    TxnResponse ReadOnlyTxn(TxnRequest request);
}

/// <summary>The backend's maintenance operations (etcd's backend.Backend and mvcc hashes).</summary>
public interface IBackendMaintenance
{
    /// <summary>Bytes allocated by the backend file (Status.dbSize).</summary>
    long SizeBytes { get; }

    /// <summary>Bytes in use inside it (Status.dbSizeInUse).</summary>
    long SizeInUseBytes { get; }

    /// <summary>The whole-backend hash and the revision it was taken at.</summary>
    (uint Hash, long Revision) Hash();

    /// <summary>etcd's HashKV at a revision (0: current).</summary>
    HashKvResult HashKV(long revision);

    /// <summary>Reclaims free space; blocking, may take long.</summary>
    void Defragment();

    /// <summary>A consistent copy of the backend to stream; disposing it deletes the copy. Blocking.</summary>
    BackendSnapshot CreateSnapshot();
}

/// <summary>The alarms raised in the cluster (etcd's alarm store).</summary>
public interface IAlarmList
{
    IReadOnlyList<AlarmMember> Alarms();
}

/// <summary>The cluster's members (etcd's membership.RaftCluster).</summary>
public interface IClusterMembers
{
    IReadOnlyList<Member> Members();
}
