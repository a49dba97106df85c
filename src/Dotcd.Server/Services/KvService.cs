using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Dotcd.Server.Apply;
using Dotcd.Server.RaftLoop;
using Google.Protobuf;

namespace Dotcd.Server.Services;

/// <summary>
/// etcdserverpb.KV (etcd's kvServer plus EtcdServer's Range/Put/DeleteRange/Txn/Compact):
/// writes go through raft as InternalRaftRequests and answer once applied; reads wait for a
/// ReadIndex round unless serializable, then read the applied state.
/// </summary>
internal sealed class KvService
{
    private readonly ServiceCore _core;

    public KvService(ServiceCore core) => _core = core;

    private IKvReader Kv => _core.Options.Kv;

    private IConsensus Consensus => _core.Options.Consensus;

    public void Register(GrpcMethodRegistry methods)
    {
        methods.AddUnary(Methods.Range, ServiceCore.Wrap(RangeAsync));
        methods.AddUnary(Methods.Put, ServiceCore.Wrap(PutAsync));
        methods.AddUnary(Methods.DeleteRange, ServiceCore.Wrap(DeleteRangeAsync));
        methods.AddUnary(Methods.Txn, ServiceCore.Wrap(TxnAsync));
        methods.AddUnary(Methods.Compact, ServiceCore.Wrap(CompactAsync));
    }

    private async ValueTask RangeAsync(ServerCallContext call)
    {
        RangeRequest request = ServiceCore.Parse(call, RangeRequest.Parser);
        _core.Intercept(call, allowedForLearner: request.Serializable);
        Check(CheckRange(request));
        NormalizeLimit(request);
        RangeResponse response = await RangeCoreAsync(request, call.CancellationToken).ConfigureAwait(false);
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    /// <summary>EtcdServer.Range without the RPC checks (the health probe reads an empty key this way).</summary>
    internal async Task<RangeResponse> RangeCoreAsync(RangeRequest request, CancellationToken cancellationToken)
    {
        if (!request.Serializable)
        {
            await Consensus.WaitLinearizableAsync(cancellationToken).ConfigureAwait(false);
        }

        return Kv.Range(request);
    }

    private async ValueTask PutAsync(ServerCallContext call)
    {
        PutRequest request = ServiceCore.Parse(call, PutRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        Check(KvRequestValidator.CheckPut(request));
        PutResponse response = await _core.ProposeAsync<PutResponse>(new InternalRaftRequest { Put = request }, call.CancellationToken)
            .ConfigureAwait(false);
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    private async ValueTask DeleteRangeAsync(ServerCallContext call)
    {
        DeleteRangeRequest request = ServiceCore.Parse(call, DeleteRangeRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        Check(KvRequestValidator.CheckDeleteRange(request));
        DeleteRangeResponse response = await _core.ProposeAsync<DeleteRangeResponse>(
            new InternalRaftRequest { DeleteRange = request }, call.CancellationToken).ConfigureAwait(false);
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    private async ValueTask TxnAsync(ServerCallContext call)
    {
        // A txn nests through RequestOp: each level of it is two message levels. etcd refuses a
        // txn nested deeper than --max-txn-ops + 1 levels (every level spends at least one op of
        // the budget), so decoding stops there and gives etcd's answer without building the rest.
        int maxTxnOps = _core.Options.MaxTxnOps;
        var request = (TxnRequest?)ServiceCore.Parse(call, TxnRequest.Parser, 2 * (maxTxnOps + 2) + 4, out bool tooDeep);
        _core.Intercept(call, allowedForLearner: false);
        if (tooDeep || request is null)
        {
            throw EtcdErrors.TooManyOps.ToException();
        }

        Check(KvRequestValidator.CheckTxn(request, maxTxnOps));
        NormalizeLimits(request);
        TxnResponse response;
        if (KvApplier.IsReadOnly(request))
        {
            // etcd evaluates a txn of Ranges locally: no proposal, no new revision.
            if (!KvApplier.IsSerializable(request))
            {
                await Consensus.WaitLinearizableAsync(call.CancellationToken).ConfigureAwait(false);
            }

            response = Kv.ReadOnlyTxn(request);
        }
        else
        {
            if (TxnDepth(request) > InternalRequestCodec.MaxTxnDepth)
            {
                // Only with a --max-txn-ops above 399 (etcd's rule then allows deeper txns): the
                // apply loop must be able to decode every entry it is given.
                throw EtcdErrors.TooManyOps.ToException();
            }

            response = await _core.ProposeAsync<TxnResponse>(new InternalRaftRequest { Txn = request }, call.CancellationToken)
                .ConfigureAwait(false);
        }

        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    private async ValueTask CompactAsync(ServerCallContext call)
    {
        CompactionRequest request = ServiceCore.Parse(call, CompactionRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        byte[] proposal = new InternalRaftRequest { Compaction = request }.ToByteArray();
        ApplyResult result = await Consensus.ProposeAsync(proposal, call.CancellationToken).ConfigureAwait(false);
        if (request.Physical && result.Physical is { } physical)
        {
            // Physical: answer once the superseded revisions are gone from the backend.
            await physical.WaitAsync(call.CancellationToken).ConfigureAwait(false);
        }

        if (result.Error is { } error)
        {
            throw RpcErrors.ToException(error);
        }

        var response = result.Response as CompactionResponse ?? new CompactionResponse();
        response.Header ??= new ResponseHeader();
        response.Header.Revision = Kv.CurrentRevision; // etcd answers with the store's revision after the compaction.
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    /// <summary>How many txns nest in <paramref name="request"/>, itself included.</summary>
    internal static int TxnDepth(TxnRequest request)
    {
        int deepest = 0;
        foreach (RequestOp op in request.Success.Concat(request.Failure))
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                deepest = Math.Max(deepest, TxnDepth(op.RequestTxn));
            }
        }

        return deepest + 1;
    }

    /// <summary>
    /// etcd treats a limit &lt;= 0 as no limit, and a limit of long.MaxValue as no limit too (its
    /// "one extra key" overflows); the store below reads a negative limit as "count only", so
    /// such limits become 0 here, which answers exactly as etcd does.
    /// </summary>
    internal static void NormalizeLimit(RangeRequest request)
    {
        if (request.Limit < 0 || request.Limit == long.MaxValue)
        {
            request.Limit = 0;
        }
    }

    private static void NormalizeLimits(TxnRequest request)
    {
        foreach (RequestOp op in request.Success.Concat(request.Failure))
        {
            if (op.RequestCase == RequestOp.RequestOneofCase.RequestRange)
            {
                NormalizeLimit(op.RequestRange);
            }
            else if (op.RequestCase == RequestOp.RequestOneofCase.RequestTxn)
            {
                NormalizeLimits(op.RequestTxn);
            }
        }
    }

    /// <summary>etcd 3.6's checkRangeRequest: the Apply layer's key check, then the sort options (3.5+).</summary>
    internal static GrpcStatus? CheckRange(RangeRequest request)
    {
        if (KvRequestValidator.CheckRange(request) is { } error)
        {
            return error.ToStatus();
        }

        return Enum.IsDefined(request.SortOrder) && Enum.IsDefined(request.SortTarget) ? null : RpcErrors.InvalidSortOption;
    }

    private static void Check(EtcdError? error)
    {
        if (error is not null)
        {
            throw error.ToException();
        }
    }

    private static void Check(GrpcStatus? error)
    {
        if (error is { } status)
        {
            throw new GrpcStatusException(status);
        }
    }
}
