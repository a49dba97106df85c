using Dotcd.Api.Etcdserverpb;
using Dotcd.Server.Apply;
using Dotcd.Server.RaftLoop;
using Dotcd.Server.Services;
using Google.Protobuf;
using ApplyResult = Dotcd.Server.RaftLoop.ApplyResult;

namespace Dotcd.Server.Composition;

/// <summary>etcd's backendQuota: what a request would add to the backend, and whether it fits.</summary>
internal static class BackendQuota
{
    /// <summary>etcd's kvOverhead: an estimate of one key's metadata.</summary>
    public const int KvOverheadBytes = 256;

    /// <summary>etcd's leaseOverhead: what one lease record is taken to add.</summary>
    public const int LeaseOverheadBytes = 64;

    public static int CostPut(PutRequest r) => KvOverheadBytes + r.Key.Length + r.Value.Length;

    /// <summary>The larger branch's puts (etcd's costTxn); 0 for a txn that adds nothing.</summary>
    public static int CostTxn(TxnRequest r)
    {
        int success = 0;
        foreach (RequestOp op in r.Success)
        {
            success += op.RequestPut is { } put ? CostPut(put) : 0;
        }

        int failure = 0;
        foreach (RequestOp op in r.Failure)
        {
            failure += op.RequestPut is { } put ? CostPut(put) : 0;
        }

        return Math.Max(success, failure);
    }

    /// <summary>
    /// A bound no request of this encoded size can cost more than: every Put inside a request
    /// takes at least 4 bytes of its encoding, and each costs its bytes plus the overhead.
    /// </summary>
    public static long UpperBound(int encodedBytes) => encodedBytes + (long)KvOverheadBytes * (encodedBytes / 4 + 1);
}

/// <summary>
/// The consensus the services propose through, with etcd's quota check in front (v3rpc's
/// quotaKVServer and quotaLeaseServer): a Put, Txn or LeaseGrant that would take the backend
/// past --quota-backend-bytes raises the NOSPACE alarm through raft and fails with
/// "etcdserver: mvcc: database space exceeded".
/// </summary>
internal sealed class QuotaConsensus : IConsensus
{
    private readonly RaftNodeHost _raft;
    private readonly Func<long> _backendSizeBytes;
    private readonly long? _quotaBytes;

    public QuotaConsensus(RaftNodeHost raft, Func<long> backendSizeBytes, long? quotaBytes)
    {
        _raft = raft;
        _backendSizeBytes = backendSizeBytes;
        _quotaBytes = quotaBytes;
    }

    public async Task<ApplyResult> ProposeAsync(ReadOnlyMemory<byte> internalRaftRequest, CancellationToken cancellationToken)
    {
        if (_quotaBytes is long quota && !Fits(internalRaftRequest, quota))
        {
            var alarm = new InternalRaftRequest
            {
                Alarm = new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Activate, MemberID = _raft.MemberId, Alarm = AlarmType.Nospace },
            };
            try
            {
                await _raft.ProposeAsync(alarm.ToByteArray(), cancellationToken).ConfigureAwait(false);
            }
            catch (EtcdServerException)
            {
                // As in etcd, the client hears "space exceeded" whether or not the alarm got through.
            }

            throw EtcdErrors.NoSpace.ToException();
        }

        return await _raft.ProposeAsync(internalRaftRequest, cancellationToken).ConfigureAwait(false);
    }

    public Task WaitLinearizableAsync(CancellationToken cancellationToken) => _raft.WaitLinearizableAsync(cancellationToken);

    public Task MoveLeaderAsync(ulong transferee, CancellationToken cancellationToken) => _raft.MoveLeaderAsync(transferee, cancellationToken);

    // etcd's Available: size + cost < quota, where only Put, Txn and LeaseGrant cost anything. The request
    // is decoded only when the cheap bound says it might not fit.
    private bool Fits(ReadOnlyMemory<byte> data, long quota)
    {
        long size = _backendSizeBytes();
        if (size + BackendQuota.UpperBound(data.Length) < quota)
        {
            return true;
        }

        InternalRaftRequest request = InternalRequestCodec.Parse(data.Span);
        int cost = request.Put is { } put ? BackendQuota.CostPut(put)
            : request.Txn is { } txn ? BackendQuota.CostTxn(txn)
            : request.LeaseGrant is not null ? BackendQuota.LeaseOverheadBytes
            : 0;
        return cost == 0 || size + cost < quota;
    }
}
