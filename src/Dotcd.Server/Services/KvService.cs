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
        TxnRequest request = ServiceCore.Parse(call, TxnRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        Check(KvRequestValidator.CheckTxn(request, _core.Options.MaxTxnOps));
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
