using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>The operations of a transaction (and the requests behind the KV calls).</summary>
public static class Ops
{
    public static RequestOp Get(string key, GetOptions? options = null) => new() { RequestRange = Range(KeyRange.Utf8(key), [], options) };

    public static RequestOp Get(ReadOnlySpan<byte> key, GetOptions? options = null) => new() { RequestRange = Range(key, [], options) };

    /// <summary>Keys in [key, rangeEnd).</summary>
    public static RequestOp GetRange(string key, string rangeEnd, GetOptions? options = null) =>
        new() { RequestRange = Range(KeyRange.Utf8(key), KeyRange.Utf8(rangeEnd), options) };

    public static RequestOp GetRange(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, GetOptions? options = null) =>
        new() { RequestRange = Range(key, rangeEnd, options) };

    /// <summary>Keys starting with prefix; an empty prefix means every key.</summary>
    public static RequestOp GetPrefix(string prefix, GetOptions? options = null) => new() { RequestRange = RangePrefix(KeyRange.Utf8(prefix), options) };

    public static RequestOp GetPrefix(ReadOnlySpan<byte> prefix, GetOptions? options = null) => new() { RequestRange = RangePrefix(prefix, options) };

    public static RequestOp Put(string key, string value, PutOptions? options = null) =>
        new() { RequestPut = PutRequest(KeyRange.Utf8(key), KeyRange.Utf8(value), options) };

    public static RequestOp Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, PutOptions? options = null) =>
        new() { RequestPut = PutRequest(key, value, options) };

    public static RequestOp Delete(string key, DeleteOptions? options = null) => new() { RequestDeleteRange = DeleteRequest(KeyRange.Utf8(key), [], options) };

    public static RequestOp Delete(ReadOnlySpan<byte> key, DeleteOptions? options = null) => new() { RequestDeleteRange = DeleteRequest(key, [], options) };

    /// <summary>Deletes the keys in [key, rangeEnd).</summary>
    public static RequestOp DeleteRange(string key, string rangeEnd, DeleteOptions? options = null) =>
        new() { RequestDeleteRange = DeleteRequest(KeyRange.Utf8(key), KeyRange.Utf8(rangeEnd), options) };

    public static RequestOp DeleteRange(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, DeleteOptions? options = null) =>
        new() { RequestDeleteRange = DeleteRequest(key, rangeEnd, options) };

    /// <summary>Deletes the keys starting with prefix; an empty prefix means every key.</summary>
    public static RequestOp DeletePrefix(string prefix, DeleteOptions? options = null) => new() { RequestDeleteRange = DeletePrefixRequest(KeyRange.Utf8(prefix), options) };

    public static RequestOp DeletePrefix(ReadOnlySpan<byte> prefix, DeleteOptions? options = null) => new() { RequestDeleteRange = DeletePrefixRequest(prefix, options) };

    /// <summary>A nested transaction (etcd 3.3+).</summary>
    public static RequestOp Txn(TxnRequest txn) => new() { RequestTxn = txn };

    internal static RangeRequest Range(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, GetOptions? options)
    {
        var request = new RangeRequest { Key = KeyRange.Bytes(key), RangeEnd = KeyRange.Bytes(rangeEnd) };
        return options?.ApplyTo(request) ?? request;
    }

    internal static RangeRequest RangePrefix(ReadOnlySpan<byte> prefix, GetOptions? options)
    {
        var request = new RangeRequest { Key = KeyRange.StartOf(prefix), RangeEnd = KeyRange.Bytes(KeyRange.PrefixEnd(prefix)) };
        return options?.ApplyTo(request) ?? request;
    }

    internal static RangeRequest RangeFromKey(ReadOnlySpan<byte> key, GetOptions? options)
    {
        var request = new RangeRequest { Key = KeyRange.StartOf(key), RangeEnd = KeyRange.Bytes(KeyRange.NoEnd) };
        return options?.ApplyTo(request) ?? request;
    }

    internal static PutRequest PutRequest(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, PutOptions? options)
    {
        var request = new PutRequest { Key = KeyRange.Bytes(key), Value = KeyRange.Bytes(value) };
        return options?.ApplyTo(request) ?? request;
    }

    internal static DeleteRangeRequest DeleteRequest(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, DeleteOptions? options) =>
        new() { Key = KeyRange.Bytes(key), RangeEnd = KeyRange.Bytes(rangeEnd), PrevKv = options?.PrevKv ?? false };

    internal static DeleteRangeRequest DeletePrefixRequest(ReadOnlySpan<byte> prefix, DeleteOptions? options) =>
        new() { Key = KeyRange.StartOf(prefix), RangeEnd = KeyRange.Bytes(KeyRange.PrefixEnd(prefix)), PrevKv = options?.PrevKv ?? false };

    /// <summary>True when the transaction cannot change the store in either branch: it may be retried anywhere.</summary>
    internal static bool IsReadOnly(TxnRequest txn) => AllReads(txn.Success) && AllReads(txn.Failure);

    private static bool AllReads(IEnumerable<RequestOp> ops)
    {
        foreach (RequestOp op in ops)
        {
            bool read = op.RequestCase switch
            {
                RequestOp.RequestOneofCase.RequestRange => true,
                RequestOp.RequestOneofCase.RequestTxn => IsReadOnly(op.RequestTxn),
                _ => false, // Put, DeleteRange, or a case this client does not know: treat it as a write.
            };
            if (!read)
            {
                return false;
            }
        }

        return true;
    }
}
