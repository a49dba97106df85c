using Dotcd.Api.Etcdserverpb;
using Google.Protobuf;

namespace Dotcd.Server.Apply;

/// <summary>etcd's checks on KV requests before they are served or proposed (v3rpc key.go).</summary>
public static class KvRequestValidator
{
    /// <summary>etcd's --max-txn-ops default.</summary>
    public const int DefaultMaxTxnOps = 128;

    public static EtcdError? CheckRange(RangeRequest r) => r.Key.IsEmpty ? EtcdErrors.EmptyKey : null;

    public static EtcdError? CheckPut(PutRequest r)
    {
        if (r.Key.IsEmpty)
        {
            return EtcdErrors.EmptyKey;
        }
        if (r.IgnoreValue && !r.Value.IsEmpty)
        {
            return EtcdErrors.ValueProvided;
        }
        if (r.IgnoreLease && r.Lease != 0)
        {
            return EtcdErrors.LeaseProvided;
        }
        return null;
    }

    public static EtcdError? CheckDeleteRange(DeleteRangeRequest r) => r.Key.IsEmpty ? EtcdErrors.EmptyKey : null;

    /// <summary>Op counts, empty keys and overlapping writes, in etcd's order of checks.</summary>
    public static EtcdError? CheckTxn(TxnRequest r, int maxTxnOps = DefaultMaxTxnOps) =>
        CheckTxnShape(r, maxTxnOps)
        ?? CheckIntervals(r.Success, out _, out _)
        ?? CheckIntervals(r.Failure, out _, out _);

    private static EtcdError? CheckTxnShape(TxnRequest r, int maxTxnOps)
    {
        int opc = Math.Max(r.Compare.Count, Math.Max(r.Success.Count, r.Failure.Count));
        if (opc > maxTxnOps)
        {
            return EtcdErrors.TooManyOps;
        }
        foreach (Compare c in r.Compare)
        {
            if (c.Key.IsEmpty)
            {
                return EtcdErrors.EmptyKey;
            }
        }
        // Nested txns get what is left of the budget after this level's widest list (etcd's rule).
        foreach (RequestOp op in r.Success)
        {
            if (CheckRequestOp(op, maxTxnOps - opc) is EtcdError e)
            {
                return e;
            }
        }
        foreach (RequestOp op in r.Failure)
        {
            if (CheckRequestOp(op, maxTxnOps - opc) is EtcdError e)
            {
                return e;
            }
        }
        return null;
    }

    private static EtcdError? CheckRequestOp(RequestOp op, int maxTxnOps) => op.RequestCase switch
    {
        RequestOp.RequestOneofCase.RequestRange => CheckRange(op.RequestRange),
        RequestOp.RequestOneofCase.RequestPut => CheckPut(op.RequestPut),
        RequestOp.RequestOneofCase.RequestDeleteRange => CheckDeleteRange(op.RequestDeleteRange),
        RequestOp.RequestOneofCase.RequestTxn => CheckTxnShape(op.RequestTxn, maxTxnOps),
        _ => EtcdErrors.KeyNotFound, // An op without a request: etcd answers "key not found".
    };

    // A deleted interval [Begin, End); End empty means unbounded. A delete without range_end
    // covers the point [key, key+"\0"). A range_end of "\0" gives [key, "\0"), which contains no
    // key: etcd's interval tree lets such a delete overlap any put, and so do we.
    private readonly record struct Interval(ByteString Begin, ByteString End)
    {
        public bool Contains(ByteString key) =>
            key.Span.SequenceCompareTo(Begin.Span) >= 0 && (End.IsEmpty || key.Span.SequenceCompareTo(End.Span) < 0);
    }

    // etcd's checkIntervals: no key may be put twice, or put and deleted, across a list of ops and
    // the txns nested in it; the then and else branches of one nested txn may put the same key.
    private static EtcdError? CheckIntervals(IList<RequestOp> ops, out HashSet<ByteString> puts, out List<Interval> dels)
    {
        puts = [];
        dels = [];
        foreach (RequestOp op in ops)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestDeleteRange)
            {
                continue;
            }
            DeleteRangeRequest d = op.RequestDeleteRange;
            dels.Add(d.RangeEnd.IsEmpty
                ? new Interval(d.Key, PointEnd(d.Key))
                : new Interval(d.Key, d.RangeEnd));
        }

        foreach (RequestOp op in ops)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestTxn)
            {
                continue;
            }
            if (CheckIntervals(op.RequestTxn.Success, out HashSet<ByteString> putsThen, out List<Interval> delsThen) is EtcdError e1)
            {
                return e1;
            }
            if (CheckIntervals(op.RequestTxn.Failure, out HashSet<ByteString> putsElse, out List<Interval> delsElse) is EtcdError e2)
            {
                return e2;
            }
            foreach (ByteString k in putsThen)
            {
                if (puts.Contains(k) || Intersects(dels, k))
                {
                    return EtcdErrors.DuplicateKey;
                }
                puts.Add(k);
            }
            foreach (ByteString k in putsElse)
            {
                if (puts.Contains(k) && !putsThen.Contains(k))
                {
                    return EtcdErrors.DuplicateKey;
                }
                if (Intersects(dels, k))
                {
                    return EtcdErrors.DuplicateKey;
                }
                puts.Add(k);
            }
            dels.AddRange(delsThen);
            dels.AddRange(delsElse);
        }

        foreach (RequestOp op in ops)
        {
            if (op.RequestCase != RequestOp.RequestOneofCase.RequestPut)
            {
                continue;
            }
            ByteString k = op.RequestPut.Key;
            if (puts.Contains(k) || Intersects(dels, k))
            {
                return EtcdErrors.DuplicateKey;
            }
            puts.Add(k);
        }
        return null;
    }

    private static bool Intersects(List<Interval> dels, ByteString key)
    {
        foreach (Interval d in dels)
        {
            if (d.Contains(key))
            {
                return true;
            }
        }
        return false;
    }

    private static ByteString PointEnd(ByteString key)
    {
        var end = new byte[key.Length + 1];
        key.Span.CopyTo(end);
        return UnsafeByteOperations.UnsafeWrap(end);
    }
}
