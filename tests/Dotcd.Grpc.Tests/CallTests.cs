using System.Buffers.Binary;
using System.Text;

namespace Dotcd.Grpc.Tests;

/// <summary>The call shapes, metadata and cancellation, client against a real Kestrel server.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class CallTests(SharedServerFixture fixture)
{
    private GrpcChannel Channel => fixture.Channel;

    [Fact]
    public async Task UnaryCallEchoesTheRequestBytes()
    {
        byte[] request = Encoding.UTF8.GetBytes("put foo bar");
        byte[] response = await Channel.UnaryAsync("/test.Echo/Unary", request);
        Assert.Equal(request, response);
    }

    [Fact]
    public async Task EmptyMessagesAreValidRequestsAndResponses()
    {
        // An empty protobuf (for example StatusRequest) is a zero-length message.
        byte[] response = await Channel.UnaryAsync("/test.Echo/Unary", ReadOnlyMemory<byte>.Empty);
        Assert.Empty(response);
    }

    [Fact]
    public async Task MessagesLargerThanTheFlowControlWindowRoundTrip()
    {
        // Kestrel's stream window is 768 KiB: the server must keep reading a message that does not fit.
        byte[] request = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(request);
        byte[] response = await Channel.UnaryAsync("/test.Echo/Unary", request);
        Assert.Equal(request, response);
    }

    [Fact]
    public async Task ServerStreamingDeliversEveryMessageInOrder()
    {
        byte[] request = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(request, 500);
        using GrpcClientCall call = Channel.StartServerStreaming("/test.Echo/Count", request);
        var indexes = new List<uint>();
        await foreach (byte[] message in call.ReadAllAsync())
        {
            indexes.Add(BinaryPrimitives.ReadUInt32BigEndian(message));
        }

        Assert.Equal(Enumerable.Range(0, 500).Select(i => (uint)i), indexes);
        Assert.Equal(StatusCode.OK, call.Status?.Code);
    }

    [Fact]
    public async Task ServerStreamingWithNoMessagesEndsCleanly()
    {
        using GrpcClientCall call = Channel.StartServerStreaming("/test.Echo/Count", new byte[4]);
        Assert.False(await call.MoveNextAsync());
        Assert.Equal(StatusCode.OK, call.Status?.Code);
    }

    [Fact]
    public async Task BidirectionalStreamInterleavesRequestsAndResponses()
    {
        using GrpcClientCall call = Channel.StartDuplexStreaming("/test.Echo/Bidi");
        for (int i = 0; i < 20; i++)
        {
            // Each answer must arrive while the request side is still open.
            byte[] message = Encoding.UTF8.GetBytes($"watch {i}");
            await call.WriteAsync(message);
            Assert.True(await call.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(message, call.Current);
        }

        await call.CompleteRequestsAsync();
        Assert.False(await call.MoveNextAsync());
        Assert.Equal(StatusCode.OK, call.Status?.Code);
    }

    [Fact]
    public async Task ClientStreamingCollectsAllRequestsIntoOneResponse()
    {
        using GrpcClientCall call = Channel.StartClientStreaming("/test.Echo/Concat");
        await call.WriteAsync("ab"u8.ToArray());
        await call.WriteAsync(Array.Empty<byte>());
        await call.WriteAsync("cd"u8.ToArray());
        await call.CompleteRequestsAsync();
        Assert.Equal("abcd"u8.ToArray(), await call.ReadSingleResponseAsync());
    }

    [Fact]
    public async Task HandlerSeesLowerCasedMetadataPeerAndDeadline()
    {
        var headers = new GrpcMetadata()
            .Add("hasleader", "true")
            .Add("Token", "abc.def")
            .Add("authorization", "Bearer xyz")
            .Add("client-api-version", "3.4")
            .AddBinary("x-data-bin", new byte[] { 0, 1, 254, 255 });
        using GrpcClientCall call = Channel.StartUnary("/test.Echo/Metadata", ReadOnlyMemory<byte>.Empty,
            new CallOptions { Headers = headers, Timeout = TimeSpan.FromSeconds(30) });
        string text = Encoding.UTF8.GetString(await call.ReadSingleResponseAsync());

        Assert.Contains("hasleader=true", text);
        Assert.Contains("token=abc.def", text);
        Assert.Contains("authorization=Bearer xyz", text);
        Assert.Contains("client-api-version=3.4", text);
        Assert.Contains("bin=0001FEFF", text);
        Assert.Contains("peer=127.0.0.1:", text);
        Assert.Contains("deadline=set", text);
        Assert.Equal("dotcd", (await call.ResponseHeadersAsync()).Get("x-served-by"));
        Assert.Equal("bye", call.Trailers.Get("x-trailer"));
    }

    [Fact]
    public async Task CancellingTheClientCancelsTheHandler()
    {
        string id = Guid.NewGuid().ToString();
        using var cancel = new CancellationTokenSource();
        Task<byte[]> pending = Channel.UnaryAsync("/test.Echo/WaitForCancel", Encoding.UTF8.GetBytes(id),
            new CallOptions { CancellationToken = cancel.Token });
        await Task.Delay(200);
        cancel.Cancel();

        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => pending);
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.Equal("cancelled", await fixture.Watch(id).Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ServerCanSendHeadersBeforeAnyMessage()
    {
        using GrpcClientCall call = Channel.StartDuplexStreaming("/test.Echo/HeadersFirst");
        GrpcMetadata headers = await call.ResponseHeadersAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("yes", headers.Get("x-early"));

        await call.WriteAsync("late"u8.ToArray());
        Assert.True(await call.MoveNextAsync());
        Assert.Equal("late"u8.ToArray(), call.Current);
    }

    [Fact]
    public async Task SerializerOfUnknownLengthIsFramedCorrectly()
    {
        byte[] request = new byte[10_000];
        new Random(3).NextBytes(request);
        byte[] response = await Channel.UnaryAsync("/test.Echo/Reverse", request);
        Assert.Equal(request.Reverse(), response);
    }

    [Fact]
    public async Task SerializerThatBreaksItsLengthPromiseAbortsTheCall()
    {
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => Channel.UnaryAsync("/test.Echo/LyingLength", new byte[1]));
        Assert.NotEqual(StatusCode.OK, error.StatusCode);
        Assert.Equal("ok"u8.ToArray(), await Channel.UnaryAsync("/test.Echo/Unary", "ok"u8.ToArray()));
    }

    [Fact]
    public async Task ConnectionRefusedIsUnavailable()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // Nothing listens there now.

        using GrpcChannel channel = GrpcChannel.Create($"http://127.0.0.1:{port}");
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync("/test.Echo/Unary", new byte[1]));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }
}
