using System.Threading.Channels;
using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Server.Tests.Watch;

/// <summary>Unary KV calls and watch streams straight over our gRPC client, as etcd clients send them.</summary>
internal sealed class WatchWire : IDisposable
{
    private readonly GrpcChannel _channel;

    public WatchWire(string endpoint) => _channel = GrpcChannel.Create(endpoint);

    public async Task<long> PutAsync(string key, string value)
    {
        byte[] reply = await _channel.UnaryAsync(Methods.Put, new PutRequest { Key = B(key), Value = B(value) }.ToByteArray());
        return PutResponse.Parser.ParseFrom(reply).Header.Revision;
    }

    public async Task<DeleteRangeResponse> DeleteAsync(string key, string? end = null)
    {
        var request = new DeleteRangeRequest { Key = B(key) };
        if (end is not null)
        {
            request.RangeEnd = B(end);
        }
        return DeleteRangeResponse.Parser.ParseFrom(await _channel.UnaryAsync(Methods.DeleteRange, request.ToByteArray()));
    }

    public async Task<TxnResponse> TxnAsync(TxnRequest request) =>
        TxnResponse.Parser.ParseFrom(await _channel.UnaryAsync(Methods.Txn, request.ToByteArray()));

    public async Task CompactAsync(long revision) =>
        await _channel.UnaryAsync(Methods.Compact, new CompactionRequest { Revision = revision, Physical = true }.ToByteArray());

    public WatchCall Watch(bool requireLeader = false) =>
        new(_channel.StartDuplexStreaming(Methods.Watch,
            new CallOptions { Headers = requireLeader ? new GrpcMetadata().Add("hasleader", "true") : null }));

    public void Dispose() => _channel.Dispose();

    public static ByteString B(string s) => ByteString.CopyFromUtf8(s);
}

/// <summary>One Watch stream: requests go out as written; every response is read in the background.</summary>
internal sealed class WatchCall : IAsyncDisposable
{
    private readonly GrpcClientCall _call;
    private readonly Channel<WatchResponse> _responses = Channel.CreateUnbounded<WatchResponse>();
    private readonly Task _reader;

    public WatchCall(GrpcClientCall call)
    {
        _call = call;
        _reader = Task.Run(ReadAsync);
    }

    /// <summary>The status the call ended with (set once the reader saw the end).</summary>
    public GrpcStatus? EndStatus { get; private set; }

    public Task Ended => _reader;

    private async Task ReadAsync()
    {
        try
        {
            while (await _call.MoveNextAsync())
            {
                _responses.Writer.TryWrite(WatchResponse.Parser.ParseFrom(_call.Current));
            }
            EndStatus = _call.Status;
        }
        catch (GrpcStatusException e)
        {
            EndStatus = e.Status;
        }
        catch (Exception)
        {
            EndStatus = new GrpcStatus(StatusCode.Unavailable, "stream broken");
        }
        finally
        {
            _responses.Writer.TryComplete();
        }
    }

    public ValueTask SendAsync(WatchRequest request) => _call.WriteAsync(request.ToByteArray());

    public ValueTask CreateAsync(string key, string? end = null, long start = 0, long id = 0, bool prevKv = false,
        bool progressNotify = false, bool fragment = false, params WatchCreateRequest.Types.FilterType[] filters)
    {
        var create = new WatchCreateRequest { Key = WatchWire.B(key), StartRevision = start, WatchId = id, PrevKv = prevKv, ProgressNotify = progressNotify, Fragment = fragment };
        if (end is not null)
        {
            create.RangeEnd = end == "\0" ? ByteString.CopyFrom(0) : WatchWire.B(end);
        }
        create.Filters.AddRange(filters);
        return SendAsync(new WatchRequest { CreateRequest = create });
    }

    public ValueTask CancelAsync(long id) => SendAsync(new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = id } });

    public ValueTask ProgressAsync() => SendAsync(new WatchRequest { ProgressRequest = new WatchProgressRequest() });

    /// <summary>The next response, or null when none comes within the timeout.</summary>
    public async Task<WatchResponse?> NextAsync(int timeoutMs = 5000)
    {
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            return await _responses.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public async Task<WatchResponse> ExpectAsync(int timeoutMs = 5000) =>
        await NextAsync(timeoutMs) ?? throw new Xunit.Sdk.XunitException("no watch response within the timeout");

    public bool TryTake(out WatchResponse response) => _responses.Reader.TryRead(out response!);

    public async ValueTask DisposeAsync()
    {
        await _call.DisposeAsync();
        try
        {
            await _reader.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
        }
    }
}
