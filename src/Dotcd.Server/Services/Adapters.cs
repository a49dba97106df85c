using Dotcd.Api.Etcdserverpb;
using Dotcd.Mvcc;
using Dotcd.Server.Apply;
using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Services;

/// <summary>The raft loop as the services see it: member state and consensus.</summary>
public sealed class RaftNodeAdapter : IMemberState, IConsensus
{
    private readonly RaftNodeHost _raft;

    public RaftNodeAdapter(RaftNodeHost raft)
    {
        ArgumentNullException.ThrowIfNull(raft);
        _raft = raft;
    }

    public ulong MemberId => _raft.MemberId;

    public ulong ClusterId => _raft.ClusterId;

    public ulong Leader => _raft.Leader;

    /// <summary>The applied entry's term, which etcd's headers and Status report.</summary>
    public ulong Term => _raft.AppliedTerm;

    public ulong CommittedIndex => _raft.CommittedIndex;

    public ulong AppliedIndex => _raft.AppliedIndex;

    public bool IsLearner => _raft.ConfState.Learners.Contains(_raft.MemberId);

    public Task<ApplyResult> ProposeAsync(ReadOnlyMemory<byte> internalRaftRequest, CancellationToken cancellationToken) =>
        _raft.ProposeAsync(internalRaftRequest, cancellationToken);

    public Task WaitLinearizableAsync(CancellationToken cancellationToken) => _raft.WaitLinearizableAsync(cancellationToken);

    public Task MoveLeaderAsync(ulong transferee, CancellationToken cancellationToken) =>
        _raft.MoveLeaderAsync(transferee, cancellationToken);
}

/// <summary>The MVCC store's maintenance operations.</summary>
public sealed class MvccBackendAdapter : IBackendMaintenance
{
    private readonly MvccStore _store;

    public MvccBackendAdapter(MvccStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    public long SizeBytes => _store.SizeBytes;

    public long SizeInUseBytes => _store.SizeInUseBytes;

    public (uint Hash, long Revision) Hash()
    {
        long revision = _store.CurrentRevision;
        return (_store.Hash(), revision);
    }

    public HashKvResult HashKV(long revision) => _store.HashKV(revision);

    public void Defragment() => _store.Defragment();

    public BackendSnapshot CreateSnapshot() => _store.CreateSnapshot();
}

/// <summary>A fixed member list: a single member, or a cluster before runtime reconfiguration exists.</summary>
public sealed class StaticClusterMembers : IClusterMembers
{
    private readonly Member[] _members;

    public StaticClusterMembers(IEnumerable<Member> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        _members = members.Select(m => m.Clone()).ToArray();
    }

    public IReadOnlyList<Member> Members() => _members;
}

/// <summary>Local reads through the Apply layer's KV applier over the MVCC store.</summary>
public sealed class KvApplierReader : IKvReader
{
    private readonly KvApplier _applier;
    private readonly MvccStore _store;

    public KvApplierReader(KvApplier applier, MvccStore store)
    {
        ArgumentNullException.ThrowIfNull(applier);
        ArgumentNullException.ThrowIfNull(store);
        _applier = applier;
        _store = store;
    }

    public long CurrentRevision => _store.CurrentRevision;

    public RangeResponse Range(RangeRequest request) => Unwrap(_applier.Range(_store, request));

    public TxnResponse ReadOnlyTxn(TxnRequest request) => Unwrap(_applier.ReadOnlyTxn(_store, request));

    private static T Unwrap<T>(ApplyResult<T> result) where T : class =>
        result.Error is { } error ? throw error.ToException() : result.Response!;
}
