using System.Text;

namespace Dotcd.Grpc.Tests;

/// <summary>Status codes, messages, Trailers-Only answers and trailers after a body.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class StatusTests(SharedServerFixture fixture)
{
    private GrpcChannel Channel => fixture.Channel;

    private static byte[] FailRequest(StatusCode code, string message) => Encoding.UTF8.GetBytes($"{(int)code}|{message}");

    [Theory]
    [InlineData(StatusCode.InvalidArgument, "etcdserver: key is not provided")]
    [InlineData(StatusCode.OutOfRange, "etcdserver: mvcc: required revision has been compacted")]
    [InlineData(StatusCode.NotFound, "etcdserver: requested lease not found")]
    [InlineData(StatusCode.FailedPrecondition, "etcdserver: not leader")]
    [InlineData(StatusCode.Unavailable, "etcdserver: no leader")]
    [InlineData(StatusCode.PermissionDenied, "etcdserver: permission denied")]
    [InlineData(StatusCode.Unauthenticated, "etcdserver: invalid auth token")]
    [InlineData(StatusCode.DataLoss, "etcdserver: corrupt cluster")]
    [InlineData(StatusCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded")]
    public async Task HandlerStatusReachesTheClientExactly(StatusCode code, string message)
    {
        var error = await Assert.ThrowsAsync<GrpcStatusException>(
            () => Channel.UnaryAsync("/test.Echo/Fail", FailRequest(code, message)));
        Assert.Equal(code, error.StatusCode);
        Assert.Equal(message, error.Detail);
        Assert.Equal("asked-to-fail", error.Trailers.Get("x-reason"));
    }

    [Theory]
    [InlineData("100% done")]
    [InlineData("clé non trouvée: ключ 日本語 ✓")]
    [InlineData("line one\nline two\ttab")]
    [InlineData("%41 is not an A")]
    public async Task StatusMessagesWithPercentAndNonAsciiRoundTrip(string message)
    {
        var error = await Assert.ThrowsAsync<GrpcStatusException>(
            () => Channel.UnaryAsync("/test.Echo/Fail", FailRequest(StatusCode.Internal, message)));
        Assert.Equal(message, error.Detail);
    }

    [Fact]
    public async Task GrpcMessageIsPercentEncodedOnTheWire()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, fixture.Server.Address + "/test.Echo/Fail",
            Raw.Frame(FailRequest(StatusCode.Internal, "100% é\n")));

        Assert.Equal("13", response.GrpcStatus);
        Assert.Equal("100%25 %C3%A9%0A", response.GrpcMessage);
    }

    [Fact]
    public async Task ErrorBeforeAnyMessageIsATrailersOnlyResponse()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, fixture.Server.Address + "/test.Echo/Fail",
            Raw.Frame(FailRequest(StatusCode.NotFound, "gone")));

        // Status, message and trailers all in the one HEADERS frame; no body, no trailers after it.
        Assert.Equal(200, (int)response.Message.StatusCode);
        Assert.Equal("application/grpc", response.Message.Content.Headers.ContentType?.MediaType);
        Assert.Equal("5", response.Header("grpc-status"));
        Assert.Equal("gone", response.Header("grpc-message"));
        Assert.Equal("asked-to-fail", response.Header("x-reason"));
        Assert.Empty(response.Body);
        Assert.Empty(response.Message.TrailingHeaders);
    }

    [Fact]
    public async Task ErrorAfterMessagesArrivesInTrailersAfterTheBody()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, fixture.Server.Address + "/test.Echo/FailAfterMessages", Raw.Frame([]));

        Assert.Null(response.Header("grpc-status"));
        Assert.Equal(3 * 6, response.Body.Length);
        Assert.Equal("5", response.Trailer("grpc-status"));
        Assert.Equal("etcdserver: requested lease not found", response.Trailer("grpc-message"));
    }

    [Fact]
    public async Task ClientReadsTrailersOnlyAfterTheBody()
    {
        using GrpcClientCall call = Channel.StartServerStreaming("/test.Echo/FailAfterMessages", ReadOnlyMemory<byte>.Empty);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(await call.MoveNextAsync());
            Assert.Equal(new[] { (byte)i }, call.Current);
        }

        var error = await Assert.ThrowsAsync<GrpcStatusException>(async () => await call.MoveNextAsync());
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("etcdserver: requested lease not found", error.Detail);
        Assert.Equal("three", error.Trailers.Get("x-after"));
        Assert.Equal(StatusCode.NotFound, call.Status?.Code);
    }

    [Fact]
    public async Task SuccessfulCallEndsWithStatusZeroInTrailers()
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, fixture.Server.Address + "/test.Echo/Unary", Raw.Frame("x"u8));

        Assert.Equal(Raw.Frame("x"u8), response.Body);
        Assert.Null(response.Header("grpc-status"));
        Assert.Equal("0", response.Trailer("grpc-status"));
        Assert.Null(response.Trailer("grpc-message"));
    }
}
