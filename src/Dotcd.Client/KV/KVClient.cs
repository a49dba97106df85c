using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>
/// etcd's KV service. Reads may be retried on another endpoint; writes (Put, DeleteRange, Txn
/// with a write in either branch, Compact) are never repeated once the request may have left.
/// Responses are etcd's own messages.
/// </summary>
public sealed class KVClient
{
    private readonly EtcdTransport _transport;

    internal KVClient(EtcdTransport transport) => _transport = transport;

    /// <summary>Reads one key (<c>kvs</c> is empty when it does not exist).</summary>
    public Task<RangeResponse> GetAsync(string key, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.Range(KeyRange.Utf8(key), [], options), call);

    public Task<RangeResponse> GetAsync(ReadOnlySpan<byte> key, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.Range(key, [], options), call);

    /// <summary>Reads the keys in [key, rangeEnd).</summary>
    public Task<RangeResponse> GetRangeAsync(string key, string rangeEnd, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.Range(KeyRange.Utf8(key), KeyRange.Utf8(rangeEnd), options), call);

    public Task<RangeResponse> GetRangeAsync(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.Range(key, rangeEnd, options), call);

    /// <summary>Reads the keys starting with prefix; an empty prefix reads every key.</summary>
    public Task<RangeResponse> GetPrefixAsync(string prefix, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.RangePrefix(KeyRange.Utf8(prefix), options), call);

    public Task<RangeResponse> GetPrefixAsync(ReadOnlySpan<byte> prefix, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.RangePrefix(prefix, options), call);

    /// <summary>Reads every key at or after key (etcdctl get --from-key).</summary>
    public Task<RangeResponse> GetFromKeyAsync(string key, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.RangeFromKey(KeyRange.Utf8(key), options), call);

    public Task<RangeResponse> GetFromKeyAsync(ReadOnlySpan<byte> key, GetOptions? options = null, EtcdCallOptions call = default) =>
        RangeAsync(Ops.RangeFromKey(key, options), call);

    /// <summary>Sends a Range request as given.</summary>
    public Task<RangeResponse> RangeAsync(RangeRequest request, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Range, request, RangeResponse.Parser, CallSafety.Idempotent, call);

    /// <summary>Writes a key.</summary>
    public Task<PutResponse> PutAsync(string key, string value, PutOptions? options = null, EtcdCallOptions call = default) =>
        PutAsync(Ops.PutRequest(KeyRange.Utf8(key), KeyRange.Utf8(value), options), call);

    public Task<PutResponse> PutAsync(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, PutOptions? options = null, EtcdCallOptions call = default) =>
        PutAsync(Ops.PutRequest(key, value, options), call);

    public Task<PutResponse> PutAsync(PutRequest request, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Put, request, PutResponse.Parser, CallSafety.NotIdempotent, call);

    /// <summary>Deletes one key; <c>deleted</c> is 0 when it did not exist.</summary>
    public Task<DeleteRangeResponse> DeleteAsync(string key, DeleteOptions? options = null, EtcdCallOptions call = default) =>
        DeleteRangeAsync(Ops.DeleteRequest(KeyRange.Utf8(key), [], options), call);

    public Task<DeleteRangeResponse> DeleteAsync(ReadOnlySpan<byte> key, DeleteOptions? options = null, EtcdCallOptions call = default) =>
        DeleteRangeAsync(Ops.DeleteRequest(key, [], options), call);

    /// <summary>Deletes the keys in [key, rangeEnd).</summary>
    public Task<DeleteRangeResponse> DeleteRangeAsync(string key, string rangeEnd, DeleteOptions? options = null, EtcdCallOptions call = default) =>
        DeleteRangeAsync(Ops.DeleteRequest(KeyRange.Utf8(key), KeyRange.Utf8(rangeEnd), options), call);

    public Task<DeleteRangeResponse> DeleteRangeAsync(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, DeleteOptions? options = null, EtcdCallOptions call = default) =>
        DeleteRangeAsync(Ops.DeleteRequest(key, rangeEnd, options), call);

    /// <summary>Deletes the keys starting with prefix; an empty prefix deletes every key.</summary>
    public Task<DeleteRangeResponse> DeletePrefixAsync(string prefix, DeleteOptions? options = null, EtcdCallOptions call = default) =>
        DeleteRangeAsync(Ops.DeletePrefixRequest(KeyRange.Utf8(prefix), options), call);

    public Task<DeleteRangeResponse> DeletePrefixAsync(ReadOnlySpan<byte> prefix, DeleteOptions? options = null, EtcdCallOptions call = default) =>
        DeleteRangeAsync(Ops.DeletePrefixRequest(prefix, options), call);

    public Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.DeleteRange, request, DeleteRangeResponse.Parser, CallSafety.NotIdempotent, call);

    /// <summary>Starts a transaction: <c>Txn().If(...).Then(...).Else(...).CommitAsync()</c>.</summary>
    public TxnBuilder Txn() => new(this);

    /// <summary>Sends a transaction; it is retried elsewhere only when neither branch writes.</summary>
    public Task<TxnResponse> TxnAsync(TxnRequest request, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Txn, request, TxnResponse.Parser,
            Ops.IsReadOnly(request) ? CallSafety.Idempotent : CallSafety.NotIdempotent, call);

    /// <summary>
    /// Discards history before <paramref name="revision"/>. With <paramref name="physical"/>, the
    /// call returns only once the compaction is done on disk.
    /// </summary>
    public Task<CompactionResponse> CompactAsync(long revision, bool physical = false, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.Compact, new CompactionRequest { Revision = revision, Physical = physical },
            CompactionResponse.Parser, CallSafety.NotIdempotent, call);
}
