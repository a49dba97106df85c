using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Server.Tests.Leases;

/// <summary>etcd's Lease and KV calls over a plain gRPC channel, as any etcd client makes them.</summary>
internal sealed class LeaseRpc : IDisposable
{
    private readonly GrpcChannel _channel;

    public LeaseRpc(string endpoint) => _channel = GrpcChannel.Create(endpoint);

    public Task<LeaseGrantResponse> GrantAsync(long ttl, long id = 0) =>
        CallAsync(Methods.LeaseGrant, new LeaseGrantRequest { TTL = ttl, ID = id }, LeaseGrantResponse.Parser);

    public Task<LeaseRevokeResponse> RevokeAsync(long id) =>
        CallAsync(Methods.LeaseRevoke, new LeaseRevokeRequest { ID = id }, LeaseRevokeResponse.Parser);

    public Task<LeaseTimeToLiveResponse> TimeToLiveAsync(long id, bool keys = false) =>
        CallAsync(Methods.LeaseTimeToLive, new LeaseTimeToLiveRequest { ID = id, Keys = keys }, LeaseTimeToLiveResponse.Parser);

    public Task<LeaseLeasesResponse> LeasesAsync() =>
        CallAsync(Methods.LeaseLeases, new LeaseLeasesRequest(), LeaseLeasesResponse.Parser);

    public Task<PutResponse> PutAsync(string key, string value, long lease = 0) =>
        CallAsync(Methods.Put, new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value), Lease = lease },
            PutResponse.Parser);

    public Task<RangeResponse> GetPrefixAsync(string prefix, long revision = 0)
    {
        byte[] end = System.Text.Encoding.UTF8.GetBytes(prefix);
        end[^1]++;
        var request = new RangeRequest { Key = ByteString.CopyFromUtf8(prefix), RangeEnd = ByteString.CopyFrom(end), Revision = revision };
        return CallAsync(Methods.Range, request, RangeResponse.Parser);
    }

    /// <summary>Sends each ID on one keep-alive stream and returns the answers in order.</summary>
    public async Task<List<LeaseKeepAliveResponse>> KeepAliveAsync(params long[] ids)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using GrpcClientCall call = _channel.StartDuplexStreaming(Methods.LeaseKeepAlive, new CallOptions { CancellationToken = timeout.Token });
        var answers = new List<LeaseKeepAliveResponse>();
        foreach (long id in ids)
        {
            await call.WriteAsync(new LeaseKeepAliveRequest { ID = id }.ToByteArray());
            Assert.True(await call.MoveNextAsync());
            answers.Add(LeaseKeepAliveResponse.Parser.ParseFrom(call.Current));
        }

        await call.CompleteRequestsAsync();
        Assert.False(await call.MoveNextAsync());
        return answers;
    }

    /// <summary>The gRPC status a call fails with.</summary>
    public static async Task<GrpcStatus> FailureOf(Func<Task> call)
    {
        GrpcStatusException e = await Assert.ThrowsAsync<GrpcStatusException>(call);
        return e.Status;
    }

    public void Dispose() => _channel.Dispose();

    private async Task<T> CallAsync<T>(string method, IMessage request, MessageParser<T> parser) where T : IMessage<T>
    {
        byte[] response = await _channel.UnaryAsync(method, request.ToByteArray(), new CallOptions { Timeout = TimeSpan.FromSeconds(30) });
        return parser.ParseFrom(response);
    }
}
