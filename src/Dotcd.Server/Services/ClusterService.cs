using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;

namespace Dotcd.Server.Services;

/// <summary>
/// etcdserverpb.Cluster: MemberList is served; membership changes are refused with Unimplemented
/// naming the missing feature until dotcd has runtime reconfiguration.
/// </summary>
internal sealed class ClusterService
{
    private readonly ServiceCore _core;

    public ClusterService(ServiceCore core) => _core = core;

    public void Register(GrpcMethodRegistry methods)
    {
        methods.AddUnary(Methods.MemberList, ServiceCore.Wrap(MemberListAsync));
        foreach (string path in new[] { Methods.MemberAdd, Methods.MemberRemove, Methods.MemberUpdate, Methods.MemberPromote })
        {
            Methods.TryFind(path, out EtcdMethod? method);
            string name = method!.Name;
            methods.AddUnary(path, call =>
            {
                // Parse first, as grpc-go does, so a malformed request still gets its own answer.
                ServiceCore.Parse(call, method.RequestParser);
                _core.Intercept(call, allowedForLearner: false);
                throw new GrpcStatusException(StatusCode.Unimplemented,
                    $"dotcd: {name} is not supported yet: runtime membership changes are not implemented");
            });
        }
    }

    private async ValueTask MemberListAsync(ServerCallContext call)
    {
        MemberListRequest request = ServiceCore.Parse(call, MemberListRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        if (request.Linearizable)
        {
            await _core.Options.Consensus.WaitLinearizableAsync(call.CancellationToken).ConfigureAwait(false);
        }

        var response = new MemberListResponse { Header = _core.HeaderWithoutRevision() };
        response.Members.AddRange(_core.Options.Cluster.Members().Select(m => m.Clone()));
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }
}
