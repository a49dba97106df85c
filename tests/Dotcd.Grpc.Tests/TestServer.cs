using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Dotcd.Grpc.Tests;

/// <summary>A real Kestrel server on 127.0.0.1:0 plus clients pointed at it.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(GrpcServerHost host) => Host = host;

    public GrpcServerHost Host { get; }

    public Uri Url => Host.Urls[0];

    public string Address => Url.ToString().TrimEnd('/');

    public static async Task<TestServer> StartAsync(Action<GrpcServerHostBuilder> configure, string url = "http://127.0.0.1:0", GrpcTlsOptions? tls = null)
    {
        GrpcServerHostBuilder builder = GrpcServerHost.CreateBuilder().Listen(url, tls);
        configure(builder);
        GrpcServerHost host = builder.Build();
        await host.StartAsync();
        return new TestServer(host);
    }

    public GrpcChannel Channel(GrpcChannelOptions? options = null) => GrpcChannel.Create(Address, options);

    /// <summary>An HttpClient speaking h2c with prior knowledge, for protocol-level checks.</summary>
    public static HttpClient RawHttp2Client() => new(new SocketsHttpHandler { UseProxy = false })
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(30),
    };

    public async ValueTask DisposeAsync() => await Host.DisposeAsync();
}

/// <summary>What a raw HTTP/2 gRPC exchange looked like on the wire.</summary>
public sealed record RawResponse(HttpResponseMessage Message, byte[] Body)
{
    public string? Header(string name) =>
        Message.Headers.TryGetValues(name, out IEnumerable<string>? values) ? values.First() : null;

    public string? Trailer(string name) =>
        Message.TrailingHeaders.TryGetValues(name, out IEnumerable<string>? values) ? values.First() : null;

    /// <summary>grpc-status from the headers (Trailers-Only) or the trailers.</summary>
    public string? GrpcStatus => Header("grpc-status") ?? Trailer("grpc-status");

    public string? GrpcMessage => Header("grpc-message") ?? Trailer("grpc-message");
}

public static class Raw
{
    public static byte[] Frame(ReadOnlySpan<byte> message, byte flags = 0)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame.AsSpan(5));
        return frame;
    }

    public static async Task<RawResponse> PostAsync(HttpClient client, string url, byte[] body,
        string contentType = "application/grpc", params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        byte[] responseBody = await response.Content.ReadAsByteArrayAsync(); // Trailers arrive after the body.
        return new RawResponse(response, responseBody);
    }
}

/// <summary>Many tests meet a handler halfway: a group of calls waiting until all have arrived.</summary>
public sealed class Rendezvous(int expected)
{
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _arrived;

    public int Arrived => Volatile.Read(ref _arrived);

    public Task ArriveAndWaitAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _arrived) == expected)
        {
            _all.TrySetResult();
        }

        return _all.Task.WaitAsync(cancellationToken);
    }
}

/// <summary>
/// One server shared by most tests, with test methods under the service "test.Echo" and a few
/// HTTP routes. Handlers that tests observe from outside report through <see cref="Observed"/>.
/// </summary>
public sealed class SharedServerFixture : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;

    public GrpcChannel Channel { get; private set; } = null!;

    /// <summary>Per-test signals from handlers, keyed by an id the test puts in its request.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource<string>> Observed { get; } = new();

    public ConcurrentDictionary<string, Rendezvous> Rendezvous { get; } = new();

    public TaskCompletionSource<string> Watch(string id) =>
        Observed.GetOrAdd(id, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync(Configure);
        Channel = Server.Channel();
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }

    private void Configure(GrpcServerHostBuilder builder)
    {
        if (Environment.GetEnvironmentVariable("DOTCD_GRPC_TEST_LOG") == "1")
        {
            builder.Options.LoggerFactory = LoggerFactory.Create(b => b.AddConsole().SetMinimumLevel(LogLevel.Debug));
        }

        builder.AddUnary("/test.Echo/Unary", call => call.WriteResponseAsync(call.Request));

        // Request: u32 count. Responses: count messages, each the u32 index.
        builder.AddServerStreaming("/test.Echo/Count", async call =>
        {
            uint count = BinaryPrimitives.ReadUInt32BigEndian(call.Request.FirstSpan);
            for (uint i = 0; i < count; i++)
            {
                await call.WriteResponseAsync(4, i, static (index, writer) =>
                {
                    BinaryPrimitives.WriteUInt32BigEndian(writer.GetSpan(4), index);
                    writer.Advance(4);
                });
            }
        });

        builder.AddDuplexStreaming("/test.Echo/Bidi", async call =>
        {
            while (await call.ReadRequestAsync())
            {
                await call.WriteResponseAsync(call.Request);
            }
        });

        builder.AddClientStreaming("/test.Echo/Concat", async call =>
        {
            var all = new List<byte>();
            while (await call.ReadRequestAsync())
            {
                all.AddRange(call.Request.ToArray());
            }

            await call.WriteResponseAsync(all.ToArray());
        });

        // Request: UTF-8 "code|message". Fails before sending anything (a Trailers-Only answer).
        builder.AddUnary("/test.Echo/Fail", call =>
        {
            string[] parts = Encoding.UTF8.GetString(call.Request.ToArray()).Split('|', 2);
            call.SetResponseTrailer("x-reason", "asked-to-fail");
            throw new GrpcStatusException((StatusCode)int.Parse(parts[0]), parts[1]);
        });

        // Three messages, then NotFound with a trailer: the status must come after the body.
        builder.AddServerStreaming("/test.Echo/FailAfterMessages", async call =>
        {
            for (int i = 0; i < 3; i++)
            {
                await call.WriteResponseAsync(new byte[] { (byte)i });
            }

            call.SetResponseTrailer("x-after", "three");
            call.Status = new GrpcStatus(StatusCode.NotFound, "etcdserver: requested lease not found");
        });

        // Echoes the metadata etcd reads, the peer, and sets a response header and trailer.
        builder.AddUnary("/test.Echo/Metadata", call =>
        {
            string text = string.Join("\n",
                $"hasleader={call.GetRequestHeader("hasleader")}",
                $"token={call.GetRequestHeader("token")}",
                $"authorization={call.GetRequestHeader("authorization")}",
                $"client-api-version={call.GetRequestHeader("client-api-version")}",
                $"bin={Convert.ToHexString(call.GetRequestHeaderBytes("x-data-bin") ?? [])}",
                $"peer={call.Peer}",
                $"deadline={(call.Deadline == DateTime.MaxValue ? "none" : "set")}");
            call.SetResponseHeader("x-served-by", "dotcd");
            call.SetResponseTrailer("x-trailer", "bye");
            return call.WriteResponseAsync(Encoding.UTF8.GetBytes(text));
        });

        // Request: an id. Waits for the call's token and reports why it fired.
        builder.AddUnary("/test.Echo/WaitForCancel", async call =>
        {
            string id = Encoding.UTF8.GetString(call.Request.ToArray());
            try
            {
                await Task.Delay(Timeout.Infinite, call.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                Watch(id).TrySetResult(call.IsDeadlineExceeded ? "deadline" : "cancelled");
                throw;
            }
        });

        // Ignores its token and answers late: the server must answer DEADLINE_EXCEEDED by itself.
        builder.AddUnary("/test.Echo/Stubborn", async call =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            await call.WriteResponseAsync("late"u8.ToArray());
        });

        // Sends "first", then waits for the client's acknowledgement before sending "second".
        builder.AddDuplexStreaming("/test.Echo/AckThenSecond", async call =>
        {
            await call.WriteResponseAsync("first"u8.ToArray());
            if (await call.ReadRequestAsync())
            {
                await call.WriteResponseAsync("second"u8.ToArray());
            }
        });

        // Request: "group|count". Waits until count calls of the group are open, then answers.
        builder.AddServerStreaming("/test.Echo/Gather", async call =>
        {
            string[] parts = Encoding.UTF8.GetString(call.Request.ToArray()).Split('|');
            Rendezvous group = Rendezvous.GetOrAdd(parts[0], _ => new Rendezvous(int.Parse(parts[1])));
            await group.ArriveAndWaitAsync(call.CancellationToken);
            await call.WriteResponseAsync(Encoding.UTF8.GetBytes(call.ConnectionId));
        });

        // Sends its headers before any message, then echoes one request.
        builder.AddDuplexStreaming("/test.Echo/HeadersFirst", async call =>
        {
            call.SetResponseHeader("x-early", "yes");
            await call.SendResponseHeadersAsync();
            if (await call.ReadRequestAsync())
            {
                await call.WriteResponseAsync(call.Request);
            }
        });

        // Serializes without knowing the size first (buffered), like a message with no CalculateSize.
        builder.AddUnary("/test.Echo/Reverse", call =>
            call.WriteResponseAsync(call.Request.ToArray(), static (bytes, writer) =>
            {
                Span<byte> span = writer.GetSpan(bytes.Length);
                for (int i = 0; i < bytes.Length; i++)
                {
                    span[i] = bytes[bytes.Length - 1 - i];
                }

                writer.Advance(bytes.Length);
            }));

        // Announces 10 bytes and writes 3: the response cannot be framed, so the stream is aborted.
        builder.AddUnary("/test.Echo/LyingLength", call =>
            call.WriteResponseAsync(10, 0, static (_, writer) =>
            {
                writer.GetSpan(3)[..3].Fill(1);
                writer.Advance(3);
            }));

        builder.MapHttp("/health", context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("{\"health\":\"true\"}");
        });
        builder.UseHttpFallback(context =>
            context.Response.WriteAsync($"fallback {context.Request.Method} {context.Request.Path} {context.Request.Protocol}"));
    }
}

[CollectionDefinition(Name)]
public sealed class SharedServerCollection : ICollectionFixture<SharedServerFixture>
{
    public const string Name = "shared server";
}
