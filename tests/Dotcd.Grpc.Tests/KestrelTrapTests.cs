using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Dotcd.Grpc.Tests;

/// <summary>The Kestrel defaults that break etcd clients (DESIGN.md), each pinned by a test.</summary>
[Collection(SharedServerCollection.Name)]
public sealed class KestrelTrapTests(SharedServerFixture fixture)
{
    [Fact]
    public async Task TwoHundredConcurrentStreamsShareOneConnection()
    {
        // Kestrel's default limit is 100 streams per connection; etcd has none. With one
        // connection allowed, stream 101 would wait forever for the first 100 to finish.
        const int streams = 200;
        string group = Guid.NewGuid().ToString();
        using GrpcChannel channel = fixture.Server.Channel(new GrpcChannelOptions { EnableMultipleHttp2Connections = false });
        var calls = new List<GrpcClientCall>();
        try
        {
            for (int i = 0; i < streams; i++)
            {
                calls.Add(channel.StartServerStreaming("/test.Echo/Gather", Encoding.UTF8.GetBytes($"{group}|{streams}")));
            }

            bool[] arrived = await Task.WhenAll(calls.Select(c => c.MoveNextAsync().AsTask())).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.All(arrived, Assert.True);
            Assert.Single(calls.Select(c => Encoding.UTF8.GetString(c.Current)).Distinct());
        }
        finally
        {
            calls.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task EachStreamedMessageIsFlushedBeforeTheNextIsProduced()
    {
        // The server sends "second" only after the client acknowledged "first": unless "first" was
        // flushed on its own, neither side can move.
        using GrpcClientCall call = fixture.Channel.StartDuplexStreaming("/test.Echo/AckThenSecond");
        Assert.True(await call.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("first"u8.ToArray(), call.Current);
        await call.WriteAsync("ack"u8.ToArray());
        Assert.True(await call.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("second"u8.ToArray(), call.Current);
    }

    [Fact]
    public async Task H2cGrpcAndHttp11ShareOnePort()
    {
        using var http11 = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Server.Address + "/health") { Version = HttpVersion.Version11 };
        using HttpResponseMessage health = await http11.SendAsync(request);
        Assert.Equal(HttpVersion.Version11, health.Version);
        Assert.Equal("{\"health\":\"true\"}", await health.Content.ReadAsStringAsync());

        Assert.Equal("grpc"u8.ToArray(), await fixture.Channel.UnaryAsync("/test.Echo/Unary", "grpc"u8.ToArray()));
    }

    [Fact]
    public async Task Http11RequestsReachTheFallbackHandler()
    {
        using var http11 = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using HttpResponseMessage response = await http11.PostAsync(fixture.Server.Address + "/v3/kv/range",
            new StringContent("{\"key\":\"Zm9v\"}", Encoding.UTF8, "application/json"));
        Assert.Equal("fallback POST /v3/kv/range HTTP/1.1", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PlainHttpRequestsOverH2cReachTheHttpHandlers()
    {
        using HttpClient http2 = TestServer.RawHttp2Client();
        using HttpResponseMessage health = await http2.GetAsync(fixture.Server.Address + "/health");
        Assert.Equal(HttpVersion.Version20, health.Version);
        Assert.Equal("{\"health\":\"true\"}", await health.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task InvalidAuthorityFromEtcdClientsIsRepaired()
    {
        // clientv3 3.5.0-3.5.9 sends this on every call; Kestrel alone resets such streams.
        await using H2c client = await H2c.ConnectAsync(fixture.Server.Host.EndPoints[0]);
        await client.SendRequestAsync(1, H2c.RequestBlock("/test.Echo/Unary", "#initially=[http://127.0.0.1:2379]"), Raw.Frame("one"u8));
        Assert.Equal(Raw.Frame("one"u8), await client.ReadResponseAsync(1, TimeSpan.FromSeconds(5)));

        // The second call refers to the (repaired) dynamic-table entries by index.
        await client.SendRequestAsync(3, H2c.IndexedRequestBlock(), Raw.Frame("two"u8));
        Assert.Equal(Raw.Frame("two"u8), await client.ReadResponseAsync(3, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task InvalidAuthoritySplitAcrossPaddedHeadersAndContinuationIsRepaired()
    {
        await using H2c client = await H2c.ConnectAsync(fixture.Server.Host.EndPoints[0]);
        await client.SendSplitRequestAsync(1, H2c.RequestBlock("/test.Echo/Unary", "http://127.0.0.1:2379"), Raw.Frame("split"u8));
        Assert.Equal(Raw.Frame("split"u8), await client.ReadResponseAsync(1, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task IdleConnectionOutlivesKestrelsHeartbeat()
    {
        // Kestrel's "infinite" keep-alive overflows and closes idle HTTP/2 connections at the
        // next one-second heartbeat; a client would see GOAWAY and lose its connection.
        using GrpcChannel channel = fixture.Server.Channel(new GrpcChannelOptions { EnableMultipleHttp2Connections = false });
        string first = await ConnectionOfAsync(channel);
        await Task.Delay(TimeSpan.FromSeconds(2.2));
        Assert.Equal(first, await ConnectionOfAsync(channel));
    }

    private static async Task<string> ConnectionOfAsync(GrpcChannel channel)
    {
        using GrpcClientCall call = channel.StartServerStreaming("/test.Echo/Gather", Encoding.UTF8.GetBytes($"{Guid.NewGuid()}|1"));
        Assert.True(await call.MoveNextAsync());
        return Encoding.UTF8.GetString(call.Current);
    }

    [Fact]
    public async Task GrpcOverHttp11IsRefused()
    {
        using var http11 = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var content = new ByteArrayContent(Raw.Frame("x"u8));
        content.Headers.ContentType = new("application/grpc");
        using HttpResponseMessage response = await http11.PostAsync(fixture.Server.Address + "/test.Echo/Unary", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}

/// <summary>Kestrel's minimum request-body rate must not reset an idle watch-like stream.</summary>
public sealed class IdleStreamTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(builder =>
    {
        // A harsh rate with Kestrel's shortest grace period makes the trap spring within ~2 s
        // instead of Kestrel's default 5 s (plus the heartbeat).
        builder.Options.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 100_000, gracePeriod: TimeSpan.FromSeconds(1.01));
        builder.AddDuplexStreaming("/test.Echo/Bidi", async call =>
        {
            while (await call.ReadRequestAsync())
            {
                await call.WriteResponseAsync(call.Request);
            }
        });
        builder.AddUnary("/test.Echo/Unary", call => call.WriteResponseAsync(call.Request));
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task IdleStreamingCallOutlivesTheMinimumRequestRate()
    {
        using GrpcChannel channel = _server.Channel();
        using GrpcClientCall call = channel.StartDuplexStreaming("/test.Echo/Bidi");
        await call.WriteAsync("watch"u8.ToArray());
        Assert.True(await call.MoveNextAsync());

        await Task.Delay(TimeSpan.FromSeconds(3.5)); // Silence, as on a watch with no events.

        await call.WriteAsync("progress"u8.ToArray());
        Assert.True(await call.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("progress"u8.ToArray(), call.Current);
    }
}

/// <summary>Without the repair, Kestrel resets etcd clients' streams: the reason the repair exists.</summary>
public sealed class UnrepairedAuthorityTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(builder =>
    {
        builder.Options.RepairInvalidAuthority = false;
        builder.AddUnary("/test.Echo/Unary", call => call.WriteResponseAsync(call.Request));
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task KestrelAloneResetsStreamsWithAnEtcdStyleAuthority()
    {
        await using H2c client = await H2c.ConnectAsync(_server.Host.EndPoints[0]);
        await client.SendRequestAsync(1, H2c.RequestBlock("/test.Echo/Unary", "http://127.0.0.1:2379"), Raw.Frame("x"u8));
        Assert.Null(await client.ReadResponseAsync(1, TimeSpan.FromSeconds(5)));

        await client.SendRequestAsync(3, H2c.RequestBlock("/test.Echo/Unary", "127.0.0.1:2379"), Raw.Frame("x"u8));
        Assert.Equal(Raw.Frame("x"u8), await client.ReadResponseAsync(3, TimeSpan.FromSeconds(5)));
    }
}

/// <summary>Stopping the server ends open streams instead of waiting for them forever.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task StopEndsOpenStreamsAfterTheGracePeriod()
    {
        TestServer server = await TestServer.StartAsync(builder => builder.AddDuplexStreaming("/test.Echo/Hang", async call =>
        {
            await Task.Delay(Timeout.Infinite, call.CancellationToken);
        }));
        using GrpcChannel channel = server.Channel();
        using GrpcClientCall call = channel.StartDuplexStreaming("/test.Echo/Hang");
        await call.WriteAsync("x"u8.ToArray());
        Task<bool> read = call.MoveNextAsync().AsTask();

        var clock = Stopwatch.StartNew();
        await server.Host.StopAsync(TimeSpan.FromMilliseconds(300));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stop took {clock.Elapsed}");

        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => read.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.NotEqual(StatusCode.OK, error.StatusCode);
        await server.DisposeAsync();
    }
}
