using Dotcd.Api.Etcdserverpb;
using Google.Protobuf;

namespace Dotcd.Server.Apply;

/// <summary>
/// Decodes proposed and committed <see cref="InternalRaftRequest"/>s. Google.Protobuf stops at
/// 100 nested messages by default, and a txn nests two per level (TxnRequest, RequestOp), so
/// etcd's deepest txn (--max-txn-ops + 1 levels, 129 by default) would not decode. An entry the
/// apply loop cannot decode stops the member on every restart, so the limit lives here once:
/// the services propose nothing deeper than <see cref="MaxTxnDepth"/>, and this decodes it.
/// </summary>
public static class InternalRequestCodec
{
    /// <summary>The deepest txn nesting the services propose (etcd's own rule allows
    /// --max-txn-ops + 1 levels; beyond this a txn is refused as having too many operations).</summary>
    public const int MaxTxnDepth = 400;

    // InternalRaftRequest, two levels per txn, the innermost request, and some room.
    private const int RecursionLimit = 2 * MaxTxnDepth + 8;

    public static InternalRaftRequest Parse(ReadOnlySpan<byte> data)
    {
        try
        {
            return InternalRaftRequest.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException)
        {
            // Only deeply nested txns land here (the common case stays on the span fast path);
            // anything else fails again below with its own error.
            using var stream = new MemoryStream(data.ToArray(), writable: false);
            using var input = CodedInputStream.CreateWithLimits(stream, int.MaxValue, RecursionLimit);
            return InternalRaftRequest.Parser.ParseFrom(input);
        }
    }
}
