using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace Dotcd.Grpc.Tests.Fuzz;

/// <summary>
/// Random and mutated request streams (frames, flags, lengths, split points, encodings, timeouts,
/// content types, paths) thrown at a real server: every call ends with a gRPC status in time, no
/// handler fails with an unexpected exception, and the server still serves a clean call after.
/// </summary>
public sealed class ServerFuzzTests
{
    private const int MaxMessageBytes = 64 * 1024;

    public static TheoryData<int> Seeds() => FuzzSettings.Seeds();

    private static readonly string[] s_paths =
    [
        "/fuzz.Echo/Unary", "/fuzz.Echo/Unary", "/fuzz.Echo/ServerStream", "/fuzz.Echo/Duplex", "/fuzz.Echo/ClientStream",
        "/fuzz.Echo/Nope", "/fuzz.Nope/Unary", "/nothing",
    ];

    private static readonly string?[] s_contentTypes =
        ["application/grpc", "application/grpc", "application/grpc", "application/grpc+proto", "application/json", null, "application/grpc+json"];

    private static readonly string[] s_encodings = ["identity", "gzip", "", "snappy", "deflate, gzip"];

    private static readonly string[] s_timeouts = ["1S", "200m", "5000u", "soon", "99999999H", "0n", "1", "12345678901S", "3M"];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task ServerAnswersEveryMalformedRequestStreamWithAStatus(int seed)
    {
        var errors = new ConcurrentQueue<string>();
        await using TestServer server = await TestServer.StartAsync(builder =>
        {
            builder.Options.MaxReceiveMessageBytes = MaxMessageBytes;
            builder.Options.LoggerFactory = LoggerFactory.Create(b => b.AddProvider(new ErrorCollector(errors)));
            Configure(builder);
        });
        using HttpClient http = TestServer.RawHttp2Client();
        var random = new Random(seed);
        int cases = FuzzSettings.Cases(150);
        for (int n = 0; n < cases; n++)
        {
            string what = $"seed {seed}, case {n}";
            try
            {
                await OneCallAsync(http, server.Address, random);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{what}: {e.GetType().Name}: {e.Message}");
            }
            catch (Xunit.Sdk.XunitException e)
            {
                throw new Xunit.Sdk.XunitException($"{what}: {e.Message}");
            }

            Assert.True(errors.IsEmpty, $"{what}: the server logged {string.Join("; ", errors)}");
        }

        // The server is still whole: a clean unary call echoes.
        using GrpcChannel channel = server.Channel();
        Assert.Equal("still here"u8.ToArray(), await channel.UnaryAsync("/fuzz.Echo/Unary", "still here"u8.ToArray()));
    }

    private static void Configure(GrpcServerHostBuilder builder)
    {
        builder.AddUnary("/fuzz.Echo/Unary", call => call.WriteResponseAsync(call.Request));
        builder.AddServerStreaming("/fuzz.Echo/ServerStream", async call =>
        {
            for (int i = 0; i < 3; i++)
            {
                await call.WriteResponseAsync(call.Request);
            }
        });
        builder.AddDuplexStreaming("/fuzz.Echo/Duplex", async call =>
        {
            while (await call.ReadRequestAsync())
            {
                await call.WriteResponseAsync(call.Request);
            }
        });
        builder.AddClientStreaming("/fuzz.Echo/ClientStream", async call =>
        {
            long total = 0;
            while (await call.ReadRequestAsync())
            {
                total += call.Request.Length;
            }

            var reply = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(reply, total);
            await call.WriteResponseAsync(reply);
        });
    }

    private static async Task OneCallAsync(HttpClient http, string address, Random random)
    {
        string path = s_paths[random.Next(s_paths.Length)];
        byte[] body = random.Next(10) == 0 ? HugeFrame(random) : FrameReaderFuzzTests.RandomStream(random);
        using var request = new HttpRequestMessage(HttpMethod.Post, address + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new SplitContent(body, random.Next()),
        };
        string? contentType = s_contentTypes[random.Next(s_contentTypes.Length)];
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (random.Next(5) == 0)
        {
            request.Headers.TryAddWithoutValidation("grpc-encoding", s_encodings[random.Next(s_encodings.Length)]);
        }

        if (random.Next(5) == 0)
        {
            request.Headers.TryAddWithoutValidation("grpc-timeout", s_timeouts[random.Next(s_timeouts.Length)]);
        }

        using var hang = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        HttpResponseMessage response;
        byte[] responseBody;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, hang.Token);
            responseBody = await response.Content.ReadAsByteArrayAsync(hang.Token);
        }
        catch (OperationCanceledException) when (hang.IsCancellationRequested)
        {
            throw new Xunit.Sdk.XunitException($"no answer within 10 s to {path} with {body.Length} bytes {Convert.ToHexString(body.AsSpan(0, Math.Min(body.Length, 32)))}");
        }

        using (response)
        {
            bool registered = path.StartsWith("/fuzz.Echo/", StringComparison.Ordinal) && path != "/fuzz.Echo/Nope";
            if (!registered && (contentType is null || !contentType.StartsWith("application/grpc", StringComparison.Ordinal)))
            {
                Assert.Equal(HttpStatusCode.NotFound, response.StatusCode); // Not gRPC at all: the HTTP side answers.
                return;
            }

            string? status = Value(response, "grpc-status");
            Assert.True(status is not null,
                $"no grpc-status: HTTP {(int)response.StatusCode}, path {path}, content-type {contentType}, " +
                $"headers [{string.Join(", ", request.Headers.Select(h => $"{h.Key}: {string.Join(",", h.Value)}"))}], body {Convert.ToHexString(body)}");
            int code = int.Parse(status!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(code, 0, 16);
            string message = Uri.UnescapeDataString(Value(response, "grpc-message") ?? "");

            // Unknown is what a handler's unexpected exception becomes; only grpc-go's EOF answers may use it.
            if (code == (int)StatusCode.Unknown)
            {
                Assert.Contains(message, new[] { "EOF", "unexpected EOF" });
            }

            if (code == 0 && path == "/fuzz.Echo/Unary")
            {
                // An OK unary echo answers with exactly the first message that was sent.
                ReadOnlySpan<byte> sent = body;
                uint length = BinaryPrimitives.ReadUInt32BigEndian(sent[1..]);
                Assert.Equal(sent[..(5 + (int)length)].ToArray()[5..], responseBody[5..]);
            }
        }
    }

    private static byte[] HugeFrame(Random random)
    {
        var frame = new byte[5 + random.Next(0, 40)];
        frame[0] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), random.Next(2) == 0 ? uint.MaxValue : (uint)(MaxMessageBytes + random.Next(1, 100)));
        return frame;
    }

    private static string? Value(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out IEnumerable<string>? header) ? header.First()
        : response.TrailingHeaders.TryGetValues(name, out IEnumerable<string>? trailer) ? trailer.First()
        : null;

    /// <summary>A request body sent in random pieces, each flushed, so frames straddle DATA frames.</summary>
    private sealed class SplitContent(byte[] body, int seed) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var random = new Random(seed);
            int offset = 0;
            while (offset < body.Length)
            {
                int size = Math.Min(body.Length - offset, random.Next(1, 64));
                await stream.WriteAsync(body.AsMemory(offset, size));
                await stream.FlushAsync();
                offset += size;
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }

    /// <summary>Collects what the server logs at Error: an unexpected handler exception shows up here.</summary>
    private sealed class ErrorCollector(ConcurrentQueue<string> errors) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(errors);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> errors) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel >= LogLevel.Error)
                {
                    errors.Enqueue($"{formatter(state, exception)} {exception?.GetType().Name}: {exception?.Message}");
                }
            }
        }
    }
}
