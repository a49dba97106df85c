using System.Net;
using System.Text;

namespace Dotcd.Grpc.Tests;

/// <summary>Requests the server must refuse, each with grpc-go's answer, while it keeps serving.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class ProtocolErrorTests(SharedServerFixture fixture)
{
    private string Url(string path) => fixture.Server.Address + path;

    [Fact]
    public async Task UnknownMethodOfAKnownServiceIsUnimplemented()
    {
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => fixture.Channel.UnaryAsync("/test.Echo/Nope", new byte[1]));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal("unknown method Nope for service test.Echo", error.Detail);
    }

    [Fact]
    public async Task UnknownServiceIsUnimplemented()
    {
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => fixture.Channel.UnaryAsync("/etcdserverpb.Foo/Range", new byte[1]));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal("unknown service etcdserverpb.Foo", error.Detail);
    }

    [Fact]
    public async Task CompressedMessageIsRefusedAsUnimplemented()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Unary"), Raw.Frame("x"u8, flags: 1),
            headers: ("grpc-encoding", "gzip"));

        Assert.Equal("12", response.GrpcStatus);
        Assert.Equal("grpc: Decompressor is not installed for grpc-encoding \"gzip\"", PercentDecode(response.GrpcMessage));
        Assert.Equal("identity", response.Header("grpc-accept-encoding"));
    }

    [Fact]
    public async Task CompressedFlagWithoutAnEncodingIsInternal()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Unary"), Raw.Frame("x"u8, flags: 1));
        Assert.Equal("13", response.GrpcStatus);
        Assert.Equal("grpc: compressed flag set with identity or empty encoding", response.GrpcMessage);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/grpc+json")]
    [InlineData("application/grpc-web")]
    [InlineData("text/plain")]
    public async Task WrongContentTypeGets415(string contentType)
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Unary"), Raw.Frame("x"u8), contentType);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.Message.StatusCode);
        Assert.Equal("3", response.GrpcStatus);
    }

    [Theory]
    [InlineData("application/grpc")]
    [InlineData("application/grpc+proto")]
    [InlineData("application/grpc; charset=utf-8")]
    public async Task BothGrpcContentTypesAreServed(string contentType)
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Unary"), Raw.Frame("x"u8), contentType);
        Assert.Equal("0", response.GrpcStatus);
        Assert.Equal(Raw.Frame("x"u8), response.Body);
    }

    [Fact]
    public async Task OnlyPostIsAGrpcCall()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        using var request = new HttpRequestMessage(HttpMethod.Put, Url("/test.Echo/Unary"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(Raw.Frame("x"u8)),
        };
        request.Content.Headers.ContentType = new("application/grpc");
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("13", response.Headers.GetValues("grpc-status").Single());
    }

    [Fact]
    public async Task TruncatedLengthPrefixIsAnsweredAndTheServerKeepsServing()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Unary"), [0, 0, 0]);
        Assert.Equal("13", response.GrpcStatus);
        Assert.Contains("ended inside a message", response.GrpcMessage);

        RawResponse next = await Raw.PostAsync(http, Url("/test.Echo/Unary"), Raw.Frame("still here"u8));
        Assert.Equal("0", next.GrpcStatus);
        Assert.Equal(Raw.Frame("still here"u8), next.Body);
    }

    [Fact]
    public async Task LengthBeyondTheBodyIsAnsweredAndTheServerKeepsServing()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Unary"), [0, 0, 0, 0, 16, 1, 2, 3]);
        Assert.Equal("13", response.GrpcStatus);
        Assert.Contains("ended inside a message", response.GrpcMessage);

        RawResponse next = await Raw.PostAsync(http, Url("/test.Echo/Unary"), Raw.Frame("still here"u8));
        Assert.Equal("0", next.GrpcStatus);
    }

    [Fact]
    public async Task EmptyUnaryRequestStreamIsAnError()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Unary"), []);
        Assert.Equal("13", response.GrpcStatus);
    }

    [Fact]
    public async Task RandomRequestBodiesAlwaysGetAStatusAndNeverBreakTheServer()
    {
        var random = new Random(20240611);
        using HttpClient http = TestServer.RawHttp2Client();
        for (int i = 0; i < 150; i++)
        {
            byte[] body = new byte[random.Next(0, 24)];
            random.NextBytes(body);
            if (body.Length >= 5 && random.Next(2) == 0)
            {
                body[0] = 0; // Often a plausible header, so lengths near the body size get exercised.
                body[1] = body[2] = body[3] = 0;
                body[4] = (byte)random.Next(0, body.Length);
            }

            RawResponse response = await Raw.PostAsync(http, Url("/test.Echo/Bidi"), body);
            Assert.NotNull(response.GrpcStatus);
            if (response.GrpcStatus == "0")
            {
                Assert.Equal(body, response.Body); // Accepted only when it was whole frames, echoed back.
            }
        }

        Assert.Equal("ok"u8.ToArray(), await fixture.Channel.UnaryAsync("/test.Echo/Unary", "ok"u8.ToArray()));
    }

    private static string? PercentDecode(string? value) => value is null ? null : PercentEncoding.Decode(value);
}

/// <summary>The per-server message-size limit, with grpc-go's exact ResourceExhausted text.</summary>
public sealed class MessageSizeTests : IAsyncLifetime
{
    private const int Limit = 1024;
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(builder =>
    {
        builder.Options.MaxReceiveMessageBytes = Limit;
        builder.AddUnary("/test.Echo/Unary", call => call.WriteResponseAsync(call.Request));
        builder.AddDuplexStreaming("/test.Echo/Bidi", async call =>
        {
            while (await call.ReadRequestAsync())
            {
                await call.WriteResponseAsync(call.Request);
            }
        });
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task MessageAtTheLimitIsAccepted()
    {
        using GrpcChannel channel = _server.Channel();
        Assert.Equal(Limit, (await channel.UnaryAsync("/test.Echo/Unary", new byte[Limit])).Length);
    }

    [Fact]
    public async Task OversizeMessageIsRefusedWithResourceExhausted()
    {
        using GrpcChannel channel = _server.Channel();
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync("/test.Echo/Unary", new byte[Limit + 1]));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal($"grpc: received message larger than max ({Limit + 1} vs. {Limit})", error.Detail);
    }

    [Fact]
    public async Task OversizeMessageMidStreamEndsTheStreamAfterEarlierAnswers()
    {
        using GrpcChannel channel = _server.Channel();
        using GrpcClientCall call = channel.StartDuplexStreaming("/test.Echo/Bidi");
        await call.WriteAsync(new byte[10]);
        Assert.True(await call.MoveNextAsync());
        await call.WriteAsync(new byte[5000]);
        var error = await Assert.ThrowsAsync<GrpcStatusException>(async () => await call.MoveNextAsync());
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("grpc: received message larger than max (5000 vs. 1024)", error.Detail);
    }
}
