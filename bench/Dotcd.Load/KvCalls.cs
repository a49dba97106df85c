using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Load;

/// <summary>The KV calls the workloads make: serialize, one unary gRPC call, parse the reply.</summary>
internal static class KvCalls
{
    public static async Task<PutResponse> PutAsync(GrpcChannel channel, PutRequest request, TimeSpan timeout) =>
        PutResponse.Parser.ParseFrom(await channel.UnaryAsync(Methods.Put, request.ToByteArray(), new CallOptions { Timeout = timeout }).ConfigureAwait(false));

    public static async Task<RangeResponse> RangeAsync(GrpcChannel channel, RangeRequest request, TimeSpan timeout) =>
        RangeResponse.Parser.ParseFrom(await channel.UnaryAsync(Methods.Range, request.ToByteArray(), new CallOptions { Timeout = timeout }).ConfigureAwait(false));

    public static async Task<TxnResponse> TxnAsync(GrpcChannel channel, TxnRequest request, TimeSpan timeout) =>
        TxnResponse.Parser.ParseFrom(await channel.UnaryAsync(Methods.Txn, request.ToByteArray(), new CallOptions { Timeout = timeout }).ConfigureAwait(false));

    /// <summary>The range_end that selects every key starting with <paramref name="prefix"/> (etcd's GetPrefixRangeEnd).</summary>
    public static ByteString PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        byte[] end = prefix.ToArray();
        for (int i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return ByteString.CopyFrom(end, 0, i + 1);
            }
        }

        return ByteString.CopyFrom([0]); // All 0xff: every key from the prefix on.
    }

    /// <summary>Runs <paramref name="count"/> setup puts from <paramref name="parallel"/> tasks over the channels.</summary>
    public static async Task PutManyAsync(IReadOnlyList<GrpcChannel> channels, int count, int parallel,
        Func<int, PutRequest> request, Action<int, PutResponse>? done, TimeSpan timeout)
    {
        int next = -1;
        var tasks = new Task[Math.Min(parallel, count)];
        for (int t = 0; t < tasks.Length; t++)
        {
            GrpcChannel channel = channels[t % channels.Count];
            tasks[t] = Task.Run(async () =>
            {
                for (int i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
                {
                    PutResponse response = await PutAsync(channel, request(i), timeout).ConfigureAwait(false);
                    done?.Invoke(i, response);
                }
            });
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }
}
