using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using Dotcd.Mvcc;

namespace Dotcd.Server.Apply;

/// <summary>An answer or an etcd error.</summary>
public readonly record struct ApplyResult<T>(T? Response, EtcdError? Error) where T : class
{
    public bool IsOk => Error is null;

    public static implicit operator ApplyResult<T>(T response) => new(response, null);

    public static implicit operator ApplyResult<T>(EtcdError error) => new(null, error);
}

/// <summary>A compaction's answer, plus the task a caller with physical=true waits for (even on
/// a Compacted error, as etcd waits for the earlier compaction).</summary>
public readonly record struct CompactApplyResult(CompactionResponse? Response, EtcdError? Error, Task Physical);

/// <summary>etcd's KV applier (etcdserver/apply.go): Range, Put, DeleteRange, Txn and Compaction over
/// the MVCC store, with etcd's exact results. Requests are assumed validated by
/// <see cref="KvRequestValidator"/>; headers carry only the revision (the service adds the rest).
/// Every write txn's changes go to the lease attachments, when given, so leases know their keys.</summary>
public sealed class KvApplier(ILeaseLookup leases, ILeaseAttachments? attachments = null)
{
    // ---- Served locally (serializable, or after ReadIndex) -------------------------------------

    /// <summary>A Range at the committed state.</summary>
    public ApplyResult<RangeResponse> Range(MvccStore store, RangeRequest r)
    {
        for (int attempt = 0; ; attempt++)
        {
            using ReadTxn txn = store.BeginRead();
            ApplyResult<RangeResponse> result = Range(txn, r);
            // A compaction above our snapshot may land between picking the revision and reading;
            // a read of the newest revision then retries.
            if (result.Error != EtcdErrors.Compacted || r.Revision > 0 || attempt == 3)
            {
                return result;
            }
        }
    }

    /// <summary>A Range inside a read view (the ops of a read-only txn share one view).</summary>
    public ApplyResult<RangeResponse> Range(ReadTxn txn, RangeRequest r) => RangeCore(new ReadView(txn), r);

    /// <summary>A txn with only Range ops, served without raft (etcd's isTxnReadonly path).</summary>
    public ApplyResult<TxnResponse> ReadOnlyTxn(MvccStore store, TxnRequest r)
    {
        for (int attempt = 0; ; attempt++)
        {
            using ReadTxn txn = store.BeginRead();
            ApplyResult<TxnResponse> result = TxnCore(new ReadView(txn), r, isWrite: false);
            if (result.Error != EtcdErrors.Compacted || attempt == 3 || HasExplicitRevision(r))
            {
                return result;
            }
        }
    }

    /// <summary>True when every op on both branches is a Range (etcd serves these without raft).</summary>
    public static bool IsReadOnly(TxnRequest r)
    {
        foreach (RequestOp op in r.Success)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestRange)
            {
                return false;
            }
        }
        foreach (RequestOp op in r.Failure)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestRange)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>True when a read-only txn may skip ReadIndex: every op is a serializable Range.</summary>
    public static bool IsSerializable(TxnRequest r)
    {
        foreach (RequestOp op in r.Success)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestRange || !op.RequestRange.Serializable)
            {
                return false;
            }
        }
        foreach (RequestOp op in r.Failure)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestRange || !op.RequestRange.Serializable)
            {
                return false;
            }
        }
        return true;
    }

    // ---- Applied from committed raft entries, inside the apply loop's batch -------------------

    public ApplyResult<PutResponse> Put(MvccStore.WriteBatch batch, PutRequest r)
    {
        if (r.Lease != 0 && !leases.Exists(r.Lease))
        {
            return EtcdErrors.LeaseNotFound;
        }
        using WriteTxn txn = batch.BeginWrite();
        ApplyResult<PutResponse> result = PutCore(new WriteView(batch, txn), r);
        attachments?.Track(txn.Changes);
        return result;
    }

    public ApplyResult<DeleteRangeResponse> DeleteRange(MvccStore.WriteBatch batch, DeleteRangeRequest r)
    {
        using WriteTxn txn = batch.BeginWrite();
        ApplyResult<DeleteRangeResponse> result = DeleteRangeCore(new WriteView(batch, txn), r);
        attachments?.Track(txn.Changes);
        return result;
    }

    public ApplyResult<TxnResponse> Txn(MvccStore.WriteBatch batch, TxnRequest r)
    {
        using WriteTxn txn = batch.BeginWrite();
        ApplyResult<TxnResponse> result = TxnCore(new WriteView(batch, txn), r, isWrite: !IsReadOnly(r));
        attachments?.Track(txn.Changes);
        return result;
    }

    public CompactApplyResult Compact(MvccStore.WriteBatch batch, CompactionRequest r)
    {
        CompactResult result = batch.Compact(r.Revision);
        if (EtcdErrors.FromMvcc(result.Status) is EtcdError error)
        {
            return new CompactApplyResult(null, error, result.Physical);
        }
        var response = new CompactionResponse { Header = new ResponseHeader { Revision = batch.CurrentRevision } };
        return new CompactApplyResult(response, null, result.Physical);
    }

    // ---- etcd's applierV3backend ----------------------------------------------------------------

    private static ApplyResult<RangeResponse> RangeCore(IKvView view, RangeRequest r)
    {
        RangeRequest.Types.SortOrder sortOrder = r.SortOrder;
        RangeRequest.Types.SortTarget sortTarget = r.SortTarget;
        if (sortOrder == RangeRequest.Types.SortOrder.Ascend && sortTarget == RangeRequest.Types.SortTarget.Key)
        {
            // Keys come in ascending order already; treating this as unsorted keeps the limit
            // in the store (etcd 3.5 does the same; the answer is identical).
            sortOrder = RangeRequest.Types.SortOrder.None;
        }
        bool filtered = r.MinModRevision != 0 || r.MaxModRevision != 0 || r.MinCreateRevision != 0 || r.MaxCreateRevision != 0;
        long limit = r.Limit;
        if (sortOrder != RangeRequest.Types.SortOrder.None || filtered)
        {
            limit = 0; // Sorting and filtering need every key first.
        }
        if (limit > 0)
        {
            limit++; // One extra key tells whether there are more.
        }

        RangeResult rr = view.Range(KeyRange.FromEtcd(r.Key.Memory, r.RangeEnd.Memory), new RangeOptions(limit, r.Revision, r.CountOnly));
        if (EtcdErrors.FromMvcc(rr.Status) is EtcdError error)
        {
            return error;
        }
        List<KeyValue> kvs = rr.Kvs;
        if (filtered)
        {
            long maxMod = r.MaxModRevision, minMod = r.MinModRevision, maxCreate = r.MaxCreateRevision, minCreate = r.MinCreateRevision;
            kvs.RemoveAll(kv =>
                (maxMod != 0 && kv.ModRevision > maxMod) ||
                (minMod != 0 && kv.ModRevision < minMod) ||
                (maxCreate != 0 && kv.CreateRevision > maxCreate) ||
                (minCreate != 0 && kv.CreateRevision < minCreate));
        }

        if (sortTarget != RangeRequest.Types.SortTarget.Key && sortOrder == RangeRequest.Types.SortOrder.None)
        {
            sortOrder = RangeRequest.Types.SortOrder.Ascend; // A target without an order sorts ascending.
        }
        if (sortOrder is RangeRequest.Types.SortOrder.Ascend or RangeRequest.Types.SortOrder.Descend)
        {
            Comparison<KeyValue>? less = sortTarget switch
            {
                RangeRequest.Types.SortTarget.Key => static (a, b) => a.Key.Span.SequenceCompareTo(b.Key.Span),
                RangeRequest.Types.SortTarget.Version => static (a, b) => a.Version.CompareTo(b.Version),
                RangeRequest.Types.SortTarget.Create => static (a, b) => a.CreateRevision.CompareTo(b.CreateRevision),
                RangeRequest.Types.SortTarget.Mod => static (a, b) => a.ModRevision.CompareTo(b.ModRevision),
                RangeRequest.Types.SortTarget.Value => static (a, b) => a.Value.Span.SequenceCompareTo(b.Value.Span),
                _ => null, // etcd 3.4 crashes on an unknown target; we leave the keys in key order.
            };
            if (less is not null)
            {
                GoSort.Sort(kvs, less, descending: sortOrder == RangeRequest.Types.SortOrder.Descend);
            }
        }

        var response = new RangeResponse { Header = new ResponseHeader { Revision = rr.Revision }, Count = rr.Count };
        int shown = kvs.Count;
        if (r.Limit > 0 && kvs.Count > r.Limit)
        {
            shown = (int)r.Limit;
            response.More = true;
        }
        for (int i = 0; i < shown; i++)
        {
            KeyValue kv = kvs[i];
            if (r.KeysOnly)
            {
                kv.Value = Google.Protobuf.ByteString.Empty;
            }
            response.Kvs.Add(kv);
        }
        return response;
    }

    // etcd's Put with a txn: the lease was checked before (alone) or by the txn's request checks.
    private static ApplyResult<PutResponse> PutCore(WriteView view, PutRequest p)
    {
        var response = new PutResponse { Header = new ResponseHeader() };
        Google.Protobuf.ByteString value = p.Value;
        long lease = p.Lease;
        KeyValue? previous = null;
        if (p.IgnoreValue || p.IgnoreLease || p.PrevKv)
        {
            RangeResult rr = view.Range(KeyRange.Single(p.Key.Memory), default);
            if (EtcdErrors.FromMvcc(rr.Status) is EtcdError error)
            {
                return error;
            }
            previous = rr.Kvs.Count > 0 ? rr.Kvs[0] : null;
        }
        if (p.IgnoreValue || p.IgnoreLease)
        {
            if (previous is null)
            {
                return EtcdErrors.KeyNotFound;
            }
            if (p.IgnoreValue)
            {
                value = previous.Value;
            }
            if (p.IgnoreLease)
            {
                lease = previous.Lease;
            }
        }
        if (p.PrevKv && previous is not null)
        {
            response.PrevKv = previous;
        }
        response.Header.Revision = view.Txn.Put(p.Key, value, lease);
        return response;
    }

    private static ApplyResult<DeleteRangeResponse> DeleteRangeCore(WriteView view, DeleteRangeRequest d)
    {
        var response = new DeleteRangeResponse { Header = new ResponseHeader() };
        KeyRange range = KeyRange.FromEtcd(d.Key.Memory, d.RangeEnd.Memory);
        if (d.PrevKv)
        {
            RangeResult rr = view.Range(range, default);
            if (EtcdErrors.FromMvcc(rr.Status) is EtcdError error)
            {
                return error;
            }
            response.PrevKvs.AddRange(rr.Kvs);
        }
        (long deleted, long revision) = view.Txn.DeleteRange(range);
        response.Deleted = deleted;
        response.Header.Revision = revision;
        return response;
    }

    private ApplyResult<TxnResponse> TxnCore(IKvView view, TxnRequest rt, bool isWrite)
    {
        // The branch each txn takes, outer first, then nested txns of the taken branch depth-first.
        var path = new List<bool>();
        ComparePath(view, rt, path);
        if (isWrite && CheckRequests(view, rt, path, 0, CheckPut, out _) is EtcdError putError)
        {
            return putError;
        }
        if (CheckRequests(view, rt, path, 0, CheckRange, out _) is EtcdError rangeError)
        {
            return rangeError;
        }
        if (isWrite && view is not WriteView)
        {
            throw new InvalidOperationException("a txn that writes needs a write view");
        }
        var response = new TxnResponse { Header = new ResponseHeader() };
        ApplyTxn(view, rt, path, 0, response);
        response.Header.Revision = view.Revision;
        return response;
    }

    private static void ComparePath(IKvView view, TxnRequest rt, List<bool> path)
    {
        bool succeeded = ApplyCompares(view, rt.Compare);
        path.Add(succeeded);
        foreach (RequestOp op in succeeded ? rt.Success : rt.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                ComparePath(view, op.RequestTxn, path);
            }
        }
    }

    private static bool ApplyCompares(IKvView view, IList<Compare> compares)
    {
        foreach (Compare c in compares)
        {
            if (!ApplyCompare(view, c))
            {
                return false;
            }
        }
        return true;
    }

    private static bool ApplyCompare(IKvView view, Compare c)
    {
        RangeResult rr = view.Range(KeyRange.FromEtcd(c.Key.Memory, c.RangeEnd.Memory), default);
        if (rr.Status != MvccStatus.Ok)
        {
            return false;
        }
        if (rr.Kvs.Count == 0)
        {
            // A missing key compares as a zero KeyValue, except that a value compare fails.
            return c.Target != Compare.Types.CompareTarget.Value && CompareKv(c, new KeyValue());
        }
        foreach (KeyValue kv in rr.Kvs)
        {
            if (!CompareKv(c, kv))
            {
                return false;
            }
        }
        return true;
    }

    private static bool CompareKv(Compare c, KeyValue kv)
    {
        // The target_union case must match the target; otherwise etcd compares against zero.
        int result = c.Target switch
        {
            Compare.Types.CompareTarget.Value => kv.Value.Span.SequenceCompareTo(
                c.TargetUnionCase == Compare.TargetUnionOneofCase.Value ? c.Value.Span : default),
            Compare.Types.CompareTarget.Create => kv.CreateRevision.CompareTo(
                c.TargetUnionCase == Compare.TargetUnionOneofCase.CreateRevision ? c.CreateRevision : 0),
            Compare.Types.CompareTarget.Mod => kv.ModRevision.CompareTo(
                c.TargetUnionCase == Compare.TargetUnionOneofCase.ModRevision ? c.ModRevision : 0),
            Compare.Types.CompareTarget.Version => kv.Version.CompareTo(
                c.TargetUnionCase == Compare.TargetUnionOneofCase.Version ? c.Version : 0),
            Compare.Types.CompareTarget.Lease => kv.Lease.CompareTo(
                c.TargetUnionCase == Compare.TargetUnionOneofCase.Lease ? c.Lease : 0),
            _ => 0, // An unknown target compares equal (etcd's zero result).
        };
        return c.Result switch
        {
            Compare.Types.CompareResult.Equal => result == 0,
            Compare.Types.CompareResult.NotEqual => result != 0,
            Compare.Types.CompareResult.Greater => result > 0,
            Compare.Types.CompareResult.Less => result < 0,
            _ => true, // An unknown result passes, as in etcd.
        };
    }

    private delegate EtcdError? RequestCheck(IKvView view, RequestOp op);

    // Runs check on every non-txn op along the taken path; returns the first error.
    private static EtcdError? CheckRequests(IKvView view, TxnRequest rt, List<bool> path, int position, RequestCheck check, out int consumed)
    {
        consumed = 1;
        foreach (RequestOp op in path[position] ? rt.Success : rt.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                if (CheckRequests(view, op.RequestTxn, path, position + consumed, check, out int nested) is EtcdError e)
                {
                    return e;
                }
                consumed += nested;
                continue;
            }
            if (check(view, op) is EtcdError error)
            {
                return error;
            }
        }
        return null;
    }

    private EtcdError? CheckPut(IKvView view, RequestOp op)
    {
        if (op.RequestCase != RequestOp.RequestOneofCase.RequestPut)
        {
            return null;
        }
        PutRequest p = op.RequestPut;
        if (p.IgnoreValue || p.IgnoreLease)
        {
            RangeResult rr = view.Range(KeyRange.Single(p.Key.Memory), default);
            if (EtcdErrors.FromMvcc(rr.Status) is EtcdError error)
            {
                return error;
            }
            if (rr.Kvs.Count == 0)
            {
                return EtcdErrors.KeyNotFound;
            }
        }
        if (p.Lease != 0 && !leases.Exists(p.Lease))
        {
            return EtcdErrors.LeaseNotFound;
        }
        return null;
    }

    private static EtcdError? CheckRange(IKvView view, RequestOp op)
    {
        if (op.RequestCase != RequestOp.RequestOneofCase.RequestRange)
        {
            return null;
        }
        long rev = op.RequestRange.Revision;
        if (rev == 0)
        {
            return null;
        }
        if (rev > view.Revision)
        {
            return EtcdErrors.FutureRevision;
        }
        if (rev < view.CompactRevision)
        {
            return EtcdErrors.Compacted;
        }
        return null;
    }

    // Runs the ops of the taken branch in order; returns how many path entries nested txns used.
    private static int ApplyTxn(IKvView view, TxnRequest rt, List<bool> path, int position, TxnResponse response)
    {
        bool succeeded = path[position];
        response.Succeeded = succeeded;
        int consumed = 1;
        foreach (RequestOp op in succeeded ? rt.Success : rt.Failure)
        {
            var resp = new ResponseOp();
            switch (op.RequestCase)
            {
                case RequestOp.RequestOneofCase.RequestRange:
                    resp.ResponseRange = Must(RangeCore(view, op.RequestRange));
                    break;
                case RequestOp.RequestOneofCase.RequestPut:
                    resp.ResponsePut = Must(PutCore((WriteView)view, op.RequestPut));
                    break;
                case RequestOp.RequestOneofCase.RequestDeleteRange:
                    resp.ResponseDeleteRange = Must(DeleteRangeCore((WriteView)view, op.RequestDeleteRange));
                    break;
                case RequestOp.RequestOneofCase.RequestTxn:
                    // Nested responses keep a header without a revision, as etcd's do.
                    var nested = new TxnResponse { Header = new ResponseHeader() };
                    consumed += ApplyTxn(view, op.RequestTxn, path, position + consumed, nested);
                    resp.ResponseTxn = nested;
                    break;
            }
            response.Responses.Add(resp);
        }
        return consumed;
    }

    // Errors inside a txn are excluded by the checks before it; one here means a broken invariant.
    private static T Must<T>(ApplyResult<T> result) where T : class =>
        result.Response ?? throw new InvalidOperationException($"unexpected error during txn: {result.Error}");

    private static bool HasExplicitRevision(TxnRequest r)
    {
        foreach (RequestOp op in r.Success)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestRange && op.RequestRange.Revision > 0)
            {
                return true;
            }
        }
        foreach (RequestOp op in r.Failure)
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestRange && op.RequestRange.Revision > 0)
            {
                return true;
            }
        }
        return false;
    }

    // What the applier reads through: a committed snapshot or the open write txn.
    private interface IKvView
    {
        RangeResult Range(in KeyRange range, RangeOptions options);
        long Revision { get; }          // etcd's Rev(): the current revision as this view sees it.
        long CompactRevision { get; }   // etcd's FirstRev().
    }

    private sealed class ReadView(ReadTxn txn) : IKvView
    {
        public RangeResult Range(in KeyRange range, RangeOptions options) => txn.Range(range, options);
        public long Revision => txn.Revision;
        public long CompactRevision => txn.CompactRevision;
    }

    private sealed class WriteView(MvccStore.WriteBatch batch, WriteTxn txn) : IKvView
    {
        public WriteTxn Txn => txn;
        public RangeResult Range(in KeyRange range, RangeOptions options) => txn.Range(range, options);
        public long Revision => txn.Revision;
        public long CompactRevision => batch.CompactRevision;
    }
}
