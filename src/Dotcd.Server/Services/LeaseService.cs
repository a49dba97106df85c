using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;

namespace Dotcd.Server.Services;

/// <summary>The leader-side lease calls the Lease service needs from a member (etcd's EtcdServer.Lease*).</summary>
public interface ILeases
{
    /// <summary>A fresh server-chosen lease ID (positive, non-zero), decided before proposing.</summary>
    long NewLeaseId();

    /// <summary>Renews on the leader and returns the granted TTL; null when the lease does not exist.</summary>
    Task<long?> RenewAsync(long leaseId, CancellationToken cancellationToken);

    /// <summary>The lease's remaining and granted TTL (and keys when asked); null when it does not exist.</summary>
    Task<LeaseTimeToLiveResponse?> TimeToLiveAsync(long leaseId, bool keys, CancellationToken cancellationToken);

    /// <summary>Every lease ID, soonest expiry first.</summary>
    IReadOnlyList<long> Leases();
}

/// <summary>
/// etcdserverpb.Lease (etcd's v3rpc LeaseServer with EtcdServer's lease methods): Grant and
/// Revoke go through raft; KeepAlive, TimeToLive and Leases are answered by the leader's lessor.
/// </summary>
internal sealed class LeaseService
{
    private readonly ServiceCore _core;
    private readonly ILeases _leases;

    public LeaseService(ServiceCore core, ILeases leases)
    {
        _core = core;
        _leases = leases;
    }

    public void Register(GrpcMethodRegistry methods)
    {
        methods.AddUnary(Methods.LeaseGrant, ServiceCore.Wrap(GrantAsync));
        methods.AddUnary(Methods.LeaseRevoke, ServiceCore.Wrap(RevokeAsync));
        methods.AddDuplexStreaming(Methods.LeaseKeepAlive, ServiceCore.Wrap(KeepAliveAsync));
        methods.AddUnary(Methods.LeaseTimeToLive, ServiceCore.Wrap(TimeToLiveAsync));
        methods.AddUnary(Methods.LeaseLeases, ServiceCore.Wrap(LeasesAsync));
    }

    private async ValueTask GrantAsync(ServerCallContext call)
    {
        LeaseGrantRequest request = ServiceCore.Parse(call, LeaseGrantRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        if (request.ID == 0)
        {
            request.ID = _leases.NewLeaseId(); // Chosen before proposing, so every member applies the same ID.
        }

        LeaseGrantResponse response = await _core.ProposeAsync<LeaseGrantResponse>(new InternalRaftRequest { LeaseGrant = request },
            call.CancellationToken).ConfigureAwait(false);
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    private async ValueTask RevokeAsync(ServerCallContext call)
    {
        LeaseRevokeRequest request = ServiceCore.Parse(call, LeaseRevokeRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        LeaseRevokeResponse response = await _core.ProposeAsync<LeaseRevokeResponse>(new InternalRaftRequest { LeaseRevoke = request },
            call.CancellationToken).ConfigureAwait(false);
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    // etcd's leaseKeepAlive: one answer per request, in order; an unknown (or just revoked)
    // lease is answered with TTL 0, not an error. The header is taken before renewing, so its
    // revision never runs ahead of a revoke the client could otherwise miss.
    private async ValueTask KeepAliveAsync(ServerCallContext call)
    {
        _core.Intercept(call, allowedForLearner: false);
        while (await call.ReadRequestAsync().ConfigureAwait(false))
        {
            LeaseKeepAliveRequest request = ServiceCore.Parse(call, LeaseKeepAliveRequest.Parser);
            var response = new LeaseKeepAliveResponse { ID = request.ID, Header = _core.Fill(new ResponseHeader()) };
            long? ttl = await _leases.RenewAsync(request.ID, call.CancellationToken).ConfigureAwait(false);
            response.TTL = ttl ?? 0;
            await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
        }
    }

    private async ValueTask TimeToLiveAsync(ServerCallContext call)
    {
        LeaseTimeToLiveRequest request = ServiceCore.Parse(call, LeaseTimeToLiveRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        LeaseTimeToLiveResponse response = await _leases.TimeToLiveAsync(request.ID, request.Keys, call.CancellationToken).ConfigureAwait(false)
            ?? new LeaseTimeToLiveResponse { Header = new ResponseHeader(), ID = request.ID, TTL = -1 }; // etcd: not found is TTL -1.
        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }

    private async ValueTask LeasesAsync(ServerCallContext call)
    {
        ServiceCore.Parse(call, LeaseLeasesRequest.Parser);
        _core.Intercept(call, allowedForLearner: false);
        var response = new LeaseLeasesResponse { Header = new ResponseHeader() };
        foreach (long id in _leases.Leases())
        {
            response.Leases.Add(new LeaseStatus { ID = id });
        }

        response.Header = _core.Fill(response.Header);
        await ServiceCore.WriteAsync(call, response).ConfigureAwait(false);
    }
}
