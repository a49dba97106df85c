using System.Diagnostics;
using System.Text;

namespace Dotcd.Grpc.Tests;

/// <summary>grpc-timeout: Kestrel ignores it, so the server parses and enforces it itself.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class DeadlineTests(SharedServerFixture fixture)
{
    [Fact]
    public async Task DeadlineExceededFailsTheCallAndCancelsTheHandler()
    {
        // The client enforces its deadline too, so its reset may reach the handler first.
        string id = Guid.NewGuid().ToString();
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => fixture.Channel.UnaryAsync(
            "/test.Echo/WaitForCancel", Encoding.UTF8.GetBytes(id), new CallOptions { Timeout = TimeSpan.FromMilliseconds(300) }));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Contains(await fixture.Watch(id).Task.WaitAsync(TimeSpan.FromSeconds(5)), new[] { "deadline", "cancelled" });
    }

    [Fact]
    public async Task ServerDeadlineCancelsTheHandlersToken()
    {
        string id = Guid.NewGuid().ToString();
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, fixture.Server.Address + "/test.Echo/WaitForCancel",
            Raw.Frame(Encoding.UTF8.GetBytes(id)), headers: ("grpc-timeout", "150m"));

        Assert.Equal("4", response.GrpcStatus);
        Assert.Equal("deadline", await fixture.Watch(id).Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ServerAnswersDeadlineExceededEvenWhenTheHandlerIgnoresIt()
    {
        // A raw client that does not enforce the deadline itself: the answer must come from the server.
        using HttpClient http = TestServer.RawHttp2Client();
        var clock = Stopwatch.StartNew();
        RawResponse response = await Raw.PostAsync(http, fixture.Server.Address + "/test.Echo/Stubborn",
            Raw.Frame([]), headers: ("grpc-timeout", "200m"));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"answered after {clock.Elapsed}");
        Assert.Equal("4", response.GrpcStatus);
        Assert.Equal("context deadline exceeded", response.GrpcMessage);
        Assert.Empty(response.Body);
    }

    [Fact]
    public async Task AnExpiredDeadlineFailsWithoutWaiting()
    {
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => fixture.Channel.UnaryAsync(
            "/test.Echo/Unary", new byte[1], new CallOptions { Deadline = DateTime.UtcNow.AddSeconds(-1) }));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task CallsWithinTheirDeadlineSucceed()
    {
        byte[] response = await fixture.Channel.UnaryAsync("/test.Echo/Unary", "ok"u8.ToArray(),
            new CallOptions { Timeout = TimeSpan.FromSeconds(10) });
        Assert.Equal("ok"u8.ToArray(), response);
    }

    [Theory]
    [InlineData("1x")]
    [InlineData("S")]
    [InlineData("123456789S")]
    [InlineData("-5S")]
    public async Task MalformedGrpcTimeoutIsRefused(string timeout)
    {
        using HttpClient http = TestServer.RawHttp2Client();
        RawResponse response = await Raw.PostAsync(http, fixture.Server.Address + "/test.Echo/Unary",
            Raw.Frame([]), headers: ("grpc-timeout", timeout));

        Assert.Equal(400, (int)response.Message.StatusCode);
        Assert.Equal("13", response.GrpcStatus);
        Assert.StartsWith("malformed grpc-timeout", response.GrpcMessage);
    }

    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("3S", 30_000_000L)]
    [InlineData("250m", 2_500_000L)]
    [InlineData("1500u", 15_000L)]
    [InlineData("100n", 1L)]
    [InlineData("1n", 1L)]
    [InlineData("0S", 0L)]
    [InlineData("99999999H", 99_999_999L * 36_000_000_000L)]
    public void GrpcTimeoutParsesEveryUnit(string value, long expectedTicks)
    {
        Assert.True(GrpcTimeout.TryParse(value, out TimeSpan timeout));
        Assert.Equal(expectedTicks, timeout.Ticks);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5s")]
    [InlineData("5h")]
    [InlineData("+5S")]
    [InlineData("1.5S")]
    [InlineData("123456789m")]
    public void GrpcTimeoutRejectsWhatTheSpecForbids(string value) =>
        Assert.False(GrpcTimeout.TryParse(value, out _));

    [Theory]
    [InlineData(0L, "0n")]
    [InlineData(1L, "100n")]
    [InlineData(10_000_000L, "1000000u")]
    [InlineData(50_000_000L, "5000000u")]
    [InlineData(36_000_000_000L, "3600000m")]
    [InlineData(10_000_000_000_000L, "1000000S")]
    public void GrpcTimeoutFormatsInTheFinestUnitThatFits(long ticks, string expected)
    {
        Assert.Equal(expected, GrpcTimeout.Format(TimeSpan.FromTicks(ticks)));
        Assert.True(GrpcTimeout.TryParse(expected, out TimeSpan back));
        Assert.True(back >= TimeSpan.FromTicks(ticks), "a formatted timeout never shrinks");
    }
}
