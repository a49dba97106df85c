using System.Buffers.Binary;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;

namespace Dotcd.Interop.Tests.BadInput;

/// <summary>What a server answered to one raw gRPC request, as a client sees it on the wire.</summary>
/// <param name="HttpStatus">The HTTP status of the response headers; 0 when no response came.</param>
/// <param name="GrpcStatus">grpc-status from the trailers or a Trailers-Only response; null when absent.</param>
/// <param name="GrpcMessage">grpc-message, percent-decoded; "" when absent.</param>
/// <param name="Body">The response DATA bytes (length-prefixed messages).</param>
/// <param name="Failure">Why no complete answer came (stream reset, no answer in time); null otherwise.</param>
public sealed record RawAnswer(int HttpStatus, int? GrpcStatus, string GrpcMessage, byte[] Body, string? Failure)
{
    public const string NoAnswer = "no answer";

    public bool IsOk => GrpcStatus == 0 && Failure is null;

    /// <summary>The messages in <see cref="Body"/>, unframed; empty when the body does not frame.</summary>
    public IReadOnlyList<byte[]> Messages()
    {
        var messages = new List<byte[]>();
        ReadOnlySpan<byte> rest = Body;
        while (rest.Length >= 5)
        {
            int length = checked((int)BinaryPrimitives.ReadUInt32BigEndian(rest[1..]));
            if (rest.Length < 5 + length)
            {
                return [];
            }

            messages.Add(rest.Slice(5, length).ToArray());
            rest = rest[(5 + length)..];
        }

        return messages;
    }

    /// <summary>The status as a client reports it: "code: message", or the failure.</summary>
    public string Status => Failure ?? $"{(GrpcStatus is { } s ? ((Grpc.StatusCode)s).ToString() : "no grpc-status")}: {GrpcMessage}";

    public override string ToString() => $"http {HttpStatus}, {Status}, {Body.Length} body bytes";
}

/// <summary>
/// A gRPC client that sends whatever bytes it is given: an HTTP/2 (h2c prior knowledge) POST
/// with any body, content type and headers, so framing and encodings can be broken on purpose.
/// A request the server never answers ends as <see cref="RawAnswer.NoAnswer"/> after the timeout.
/// </summary>
public sealed class RawGrpc : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _baseUrl;

    public RawGrpc(string baseUrl)
    {
        _baseUrl = baseUrl;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = true })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>One length-prefixed message: [flags: u8][length: u32 big-endian][message].</summary>
    public static byte[] Frame(ReadOnlySpan<byte> message, byte flags = 0)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame.AsSpan(5));
        return frame;
    }

    /// <summary>Sends <paramref name="body"/> as the whole request stream of a call to <paramref name="path"/>.</summary>
    public async Task<RawAnswer> CallAsync(
        string path,
        byte[] body,
        string? contentType = "application/grpc",
        TimeSpan? timeout = null,
        params (string Name, string Value)[] headers)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        using var request = new HttpRequestMessage(HttpMethod.Post, _baseUrl + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach ((string name, string value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            byte[] responseBody = await response.Content.ReadAsByteArrayAsync(deadline.Token); // Trailers arrive after the body.
            string? status = Header(response, "grpc-status");
            string message = Header(response, "grpc-message") ?? "";
            return new RawAnswer(
                (int)response.StatusCode,
                status is null ? null : int.Parse(status, System.Globalization.CultureInfo.InvariantCulture),
                Uri.UnescapeDataString(message),
                responseBody,
                null);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            return new RawAnswer(0, null, "", [], RawAnswer.NoAnswer);
        }
        catch (HttpRequestException e)
        {
            // A stream reset (RST_STREAM) or a dropped connection: report the HTTP/2 error, not the text around it.
            string reason = e.InnerException is HttpProtocolException p ? $"stream reset ({p.ErrorCode})" : "connection failed";
            return new RawAnswer(0, null, "", [], reason);
        }
        catch (HttpIOException e)
        {
            string reason = e is HttpProtocolException p ? $"stream reset ({p.ErrorCode})" : "connection failed";
            return new RawAnswer(0, null, "", [], reason);
        }
    }

    private static string? Header(HttpResponseMessage response, string name)
    {
        if (response.TrailingHeaders.TryGetValues(name, out IEnumerable<string>? trailer))
        {
            return trailer.First();
        }

        return response.Headers.TryGetValues(name, out IEnumerable<string>? header) ? header.First() : null;
    }

    public void Dispose() => _http.Dispose();
}
