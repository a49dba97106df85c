using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Client;

/// <summary>
/// etcd's Lease service: grant, revoke, inspect, and keep leases alive. Keys put with a lease are
/// deleted when it is revoked or expires. Grant and Revoke are writes and are never repeated in
/// doubt; TimeToLive and Leases are reads.
/// </summary>
public sealed class LeaseClient : IDisposable
{
    private readonly EtcdTransport _transport;
    private readonly LeaseKeepAliveLoop _keepAlive;

    internal LeaseClient(EtcdTransport transport)
    {
        _transport = transport;
        _keepAlive = new LeaseKeepAliveLoop(transport);
    }

    /// <summary>
    /// Grants a lease of <paramref name="ttlSeconds"/> (the server may raise it to its minimum);
    /// <paramref name="leaseId"/> 0 lets the server choose the ID.
    /// </summary>
    public Task<LeaseGrantResponse> GrantAsync(long ttlSeconds, long leaseId = 0, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.LeaseGrant, new LeaseGrantRequest { TTL = ttlSeconds, ID = leaseId },
            LeaseGrantResponse.Parser, CallSafety.NotIdempotent, call);

    /// <summary>Revokes a lease: its keys are deleted in one revision.</summary>
    public Task<LeaseRevokeResponse> RevokeAsync(long leaseId, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.LeaseRevoke, new LeaseRevokeRequest { ID = leaseId },
            LeaseRevokeResponse.Parser, CallSafety.NotIdempotent, call);

    /// <summary>The lease's remaining and granted TTL (TTL -1 when it does not exist), and its keys when asked.</summary>
    public Task<LeaseTimeToLiveResponse> TimeToLiveAsync(long leaseId, bool keys = false, EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.LeaseTimeToLive, new LeaseTimeToLiveRequest { ID = leaseId, Keys = keys },
            LeaseTimeToLiveResponse.Parser, CallSafety.Idempotent, call);

    /// <summary>Every lease in the cluster.</summary>
    public Task<LeaseLeasesResponse> LeasesAsync(EtcdCallOptions call = default) =>
        _transport.UnaryAsync(Methods.LeaseLeases, new LeaseLeasesRequest(), LeaseLeasesResponse.Parser, CallSafety.Idempotent, call);

    /// <summary>
    /// Renews a lease once; throws <see cref="EtcdException"/> with <see cref="EtcdError.LeaseNotFound"/>
    /// when it no longer exists (etcd answers TTL 0 then, as clientv3 reports it).
    /// </summary>
    public async Task<LeaseKeepAliveResponse> KeepAliveOnceAsync(long leaseId, EtcdCallOptions call = default)
    {
        Endpoint endpoint = _transport.Preferred;
        try
        {
            using GrpcClientCall stream = endpoint.Channel.StartDuplexStreaming(Methods.LeaseKeepAlive, _transport.CreateCallOptions(call));
            await stream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }.ToByteArray()).ConfigureAwait(false);
            if (!await stream.MoveNextAsync().ConfigureAwait(false))
            {
                throw new EtcdException(StatusCode.Internal, "the keepalive stream ended without an answer", endpoint.Address);
            }

            LeaseKeepAliveResponse response = LeaseKeepAliveResponse.Parser.ParseFrom(stream.Current);
            if (response.TTL <= 0)
            {
                throw new EtcdException(EtcdErrors.Code(EtcdError.LeaseNotFound), EtcdErrors.Message(EtcdError.LeaseNotFound), endpoint.Address);
            }

            return response;
        }
        catch (GrpcStatusException e)
        {
            if (call.CancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The etcd call was cancelled.", e, call.CancellationToken);
            }

            bool sent = EtcdTransport.RequestMayHaveBeenSent(e);
            if (!sent || e.StatusCode == StatusCode.Unavailable)
            {
                _transport.ReportUnavailable(endpoint);
            }

            throw new EtcdException(e, endpoint.Address, sent);
        }
    }

    /// <summary>
    /// Keeps a lease alive until the returned handle is disposed, renewing it at a third of its TTL
    /// (see <see cref="LeaseKeepAlive"/> for how a lost lease is reported).
    /// </summary>
    public LeaseKeepAlive KeepAlive(long leaseId) => _keepAlive.Add(leaseId);

    /// <summary>Stops every keepalive (their handles fault with <see cref="ObjectDisposedException"/>).</summary>
    public void Dispose() => _keepAlive.Dispose();
}
