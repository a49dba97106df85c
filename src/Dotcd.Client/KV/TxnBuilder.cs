using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>
/// Builds a transaction: If(compares).Then(ops).Else(ops), each at most once and in that order,
/// then <see cref="CommitAsync"/>. All compares must hold for Then to run; otherwise Else runs.
/// </summary>
public sealed class TxnBuilder
{
    private readonly KVClient? _kv; // Null when built only for nesting with Ops.Txn.
    private readonly TxnRequest _request = new();
    private int _stage; // 0: nothing yet, 1: If given, 2: Then given, 3: Else given. Only grows.

    internal TxnBuilder(KVClient? kv) => _kv = kv;

    /// <summary>A builder for a transaction nested inside another one with <see cref="Ops.Txn"/>.</summary>
    public static TxnBuilder Nested() => new(null);

    public TxnBuilder If(params IEnumerable<Compare> compares)
    {
        Advance(1, "If");
        _request.Compare.AddRange(compares);
        return this;
    }

    public TxnBuilder Then(params IEnumerable<RequestOp> ops)
    {
        Advance(2, "Then");
        _request.Success.AddRange(ops);
        return this;
    }

    public TxnBuilder Else(params IEnumerable<RequestOp> ops)
    {
        Advance(3, "Else");
        _request.Failure.AddRange(ops);
        return this;
    }

    /// <summary>The request built so far.</summary>
    public TxnRequest ToRequest() => _request.Clone();

    /// <summary>Sends the transaction; <c>succeeded</c> says which branch ran.</summary>
    public Task<TxnResponse> CommitAsync(EtcdCallOptions call = default) =>
        (_kv ?? throw new InvalidOperationException("A nested transaction is committed by its parent.")).TxnAsync(_request.Clone(), call);

    private void Advance(int stage, string name)
    {
        if (_stage >= stage)
        {
            throw new InvalidOperationException($"{name} must come once, after If and Then in that order.");
        }

        _stage = stage;
    }
}
