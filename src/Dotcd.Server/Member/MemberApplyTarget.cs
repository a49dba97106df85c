using System.Diagnostics;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Mvcc;
using Dotcd.Mvcc.Backend;
using Dotcd.Raft;
using Dotcd.Server.Apply;
using Dotcd.Server.Leases;
using Dotcd.Server.RaftLoop;
using Dotcd.Storage;
using Google.Protobuf;
using ApplyResult = Dotcd.Server.RaftLoop.ApplyResult;

namespace Dotcd.Server.Composition;

/// <summary>
/// The member's state machine (etcd's applierV3 over its backend): decodes each committed
/// InternalRaftRequest and applies it through the KV applier, the lessor and the alarm store, a
/// whole run of entries in one SQLite transaction that also stores consistent_index.
/// </summary>
/// <remarks>
/// While a NOSPACE alarm is raised, requests that add data (Put, a Txn with a Put, LeaseGrant)
/// fail with "database space exceeded" (etcd's applierV3Capped); deletes, revokes, reads and
/// compactions go on.
/// Applying never reads a clock or the backend size: every member reaches the same state.
/// </remarks>
internal sealed class MemberApplyTarget : IApplyTarget
{
    private readonly MvccStore _store;
    private readonly KvApplier _kv;
    private readonly Lessor _lessor;
    private readonly Mvcc.Watch.WatchableStore? _watchers;
    private readonly AlarmStore _alarms;
    private readonly IStorageLog _log;
    private readonly string _clusterIdHex;
    private ulong _memberId;  // Set once the raft host knows it (before any entry is applied).

    /// <param name="lessor">The member's lessor; null opens one on store with etcd's default minimum TTL.</param>
    /// <param name="watchers">Where each committed run's changes go; null: nobody watches.</param>
    public MemberApplyTarget(MvccStore store, AlarmStore alarms, IStorageLog log, string clusterIdHex = "", Lessor? lessor = null,
        Mvcc.Watch.WatchableStore? watchers = null)
    {
        _watchers = watchers;
        _store = store;
        _alarms = alarms;
        _log = log;
        _clusterIdHex = clusterIdHex;
        _lessor = lessor ?? Lessor.Open(store, Lessor.MinTtlFor(10, TimeSpan.FromMilliseconds(100)), log);
        _kv = new KvApplier(_lessor, _lessor);
        ConsistentIndex = store.ConsistentIndex;
    }

    public ulong ConsistentIndex { get; }

    /// <summary>The leases this state machine applies to.</summary>
    public Lessor Lessor => _lessor;

    /// <summary>Sees how long each backend commit took (etcd_disk_backend_commit_duration_seconds).</summary>
    public Action<TimeSpan>? OnCommit { get; set; }

    public ulong MemberId
    {
        set => Volatile.Write(ref _memberId, value);
    }

    public void ApplyEntries(IReadOnlyList<Entry> entries, List<AppliedRequest> completed)
    {
        using MvccStore.WriteBatch batch = _store.BeginBatch();
        foreach (Entry entry in entries)
        {
            if (entry.Data.IsEmpty)
            {
                // A new leader's no-op entry: everything of earlier terms is applied, so a
                // member leading this term may now take over lease expiry (etcd's Promote).
                _lessor.NewTermApplied(entry.Term);
                continue;
            }

            InternalRaftRequest request = InternalRequestCodec.Parse(entry.Data.Span);
            ApplyResult result = Apply(batch, request);
            ulong id = request.ID != 0 ? request.ID : request.Header?.ID ?? 0;
            if (id != 0)
            {
                completed.Add(new AppliedRequest(id, result));
            }
        }

        batch.SetConsistentIndex(entries[^1].Index);
        long started = Stopwatch.GetTimestamp();
        IReadOnlyList<MvccChange> changes = batch.Commit();
        _watchers?.Publish(changes); // Watchers see the run once it is committed.
        OnCommit?.Invoke(Stopwatch.GetElapsedTime(started));
    }

    private ApplyResult Apply(MvccStore.WriteBatch batch, InternalRaftRequest request)
    {
        if (request.Put is { } put)
        {
            return _alarms.NoSpace ? Failed(EtcdErrors.NoSpace) : From(_kv.Put(batch, put));
        }

        if (request.DeleteRange is { } deleteRange)
        {
            return From(_kv.DeleteRange(batch, deleteRange));
        }

        if (request.Txn is { } txn)
        {
            return _alarms.NoSpace && BackendQuota.CostTxn(txn) > 0 ? Failed(EtcdErrors.NoSpace) : From(_kv.Txn(batch, txn));
        }

        if (request.Compaction is { } compaction)
        {
            CompactApplyResult result = _kv.Compact(batch, compaction);
            return new ApplyResult { Response = result.Response, Error = result.Error?.ToException(), Physical = result.Physical };
        }

        if (request.LeaseGrant is { } grant)
        {
            return _alarms.NoSpace ? Failed(EtcdErrors.NoSpace) : From(_lessor.Grant(batch, grant));
        }

        if (request.LeaseRevoke is { } revoke)
        {
            return From(_lessor.Revoke(batch, revoke));
        }

        if (request.LeaseCheckpoint is { } checkpoint)
        {
            return new ApplyResult { Response = _lessor.Checkpoint(batch, checkpoint) };
        }

        if (request.Alarm is { } alarm)
        {
            return new ApplyResult { Response = ApplyAlarm(batch, alarm) };
        }

        // Only the services above can propose, and they propose nothing else yet.
        return new ApplyResult { Error = new GrpcStatusException(StatusCode.Unimplemented, "dotcd: this request cannot be applied yet") };
    }

    // etcd's applierV3backend.Alarm.
    private AlarmResponse ApplyAlarm(MvccStore.WriteBatch batch, AlarmRequest request)
    {
        var response = new AlarmResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision } };
        switch (request.Action)
        {
            case AlarmRequest.Types.AlarmAction.Get:
                response.Alarms.AddRange(_alarms.Get(request.Alarm));
                break;
            case AlarmRequest.Types.AlarmAction.Activate:
                if (request.Alarm == AlarmType.None)
                {
                    break;
                }

                if (_alarms.Activate(batch, request.MemberID, request.Alarm) is { } raised)
                {
                    response.Alarms.Add(raised);
                    _log.Write(StorageLogLevel.Warn, "alarm raised", ("alarm", raised.Alarm.ToString().ToUpperInvariant()),
                        ("from", MemberIds.ToHex(raised.MemberID)));
                }

                break;
            case AlarmRequest.Types.AlarmAction.Deactivate:
                if (_alarms.Deactivate(batch, request.MemberID, request.Alarm) is { } cleared)
                {
                    response.Alarms.Add(cleared);
                    _log.Write(StorageLogLevel.Info, "alarm disarmed", ("alarm", cleared.Alarm.ToString().ToUpperInvariant()),
                        ("from", MemberIds.ToHex(cleared.MemberID)));
                }

                break;
        }

        return response;
    }

    public ConfChangeDecision ApplyConfChange(Entry entry, IConfChange change)
    {
        // A single member sees only its own bootstrap AddNode. Record the member the first time
        // (etcd keeps members in the "members" bucket, keyed by hex ID, valued by its JSON).
        ConfChange? v1 = change.AsV1();
        if (entry.Index > Math.Max(ConsistentIndex, _store.ConsistentIndex))
        {
            using MvccStore.WriteBatch batch = _store.BeginBatch();
            if (v1 is { Type: ConfChangeType.AddNode, NodeId: not 0 } add)
            {
                batch.Put(Bucket.Members, System.Text.Encoding.ASCII.GetBytes(MemberIds.ToHex(add.NodeId)), add.Context.Span);
                _log.Write(StorageLogLevel.Info, "added member", ("cluster-id", _clusterIdHex),
                    ("local-member-id", MemberIds.ToHex(Volatile.Read(ref _memberId))), ("added-peer-id", MemberIds.ToHex(add.NodeId)));
            }

            batch.SetConsistentIndex(entry.Index);
            batch.Commit();
        }

        return new ConfChangeDecision(true, null);
    }

    public void ApplySnapshot(Snapshot snapshot) =>
        throw new NotSupportedException("a single member never receives a raft snapshot");

    public void Sync() => _store.Sync();

    private static ApplyResult From<T>(ApplyResult<T> result) where T : class, IMessage =>
        new() { Response = result.Response, Error = result.Error?.ToException() };

    private static ApplyResult Failed(EtcdError error) => new() { Error = error.ToException() };

}
