using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;

namespace Dotcd.Grpc;

/// <summary>
/// One client call. Read responses with <see cref="MoveNextAsync"/> and <see cref="Current"/>;
/// for streaming requests, <see cref="WriteAsync"/> then <see cref="CompleteRequestsAsync"/>.
/// A non-OK status surfaces as <see cref="GrpcStatusException"/> from the read that reaches it.
/// Dispose cancels the call if it is still open (the stream is reset).
/// </summary>
public sealed class GrpcClientCall : IDisposable, IAsyncDisposable
{
    private static readonly GrpcStatus s_deadline = new(StatusCode.DeadlineExceeded, "context deadline exceeded");
    private static readonly GrpcStatus s_cancelled = new(StatusCode.Cancelled, "context canceled");

    private readonly GrpcChannel _channel;
    private readonly MethodType _type;
    private readonly HttpRequestMessage _request;
    private readonly StreamingContent? _requestStream;
    private readonly CancellationTokenSource _cancellation;
    private readonly CancellationToken _callerToken;
    private readonly Task<HttpResponseMessage> _responseTask;
    private readonly byte[] _header = new byte[GrpcFrame.HeaderLength];

    private HttpResponseMessage? _response;
    private Stream? _body;
    private GrpcStatus? _status;          // Set once the call ended, whichever way.
    private HttpHeaders? _trailerSource;  // Where the trailers came from; turned into metadata on demand.
    private GrpcMetadata? _trailers;
    private volatile bool _cancelledByCaller;
    private bool _disposed;

    internal GrpcClientCall(GrpcChannel channel, string method, MethodType type, HttpContent content,
        StreamingContent? requestStream, CallOptions options)
    {
        _channel = channel;
        _type = type;
        _requestStream = requestStream;
        _callerToken = options.CancellationToken;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(options.CancellationToken);

        _request = new HttpRequestMessage(HttpMethod.Post, channel.MethodUri(method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact, // h2c with prior knowledge for http://.
            Content = content,
        };
        HttpRequestHeaders headers = _request.Headers;
        headers.TryAddWithoutValidation("te", "trailers");
        headers.TryAddWithoutValidation("user-agent", channel.Options.UserAgent);
        TimeSpan? timeout = options.EffectiveTimeout();
        if (timeout is { } t)
        {
            headers.TryAddWithoutValidation(GrpcHeaders.Timeout, GrpcTimeout.Format(t));
        }

        if (options.Headers is { } metadata)
        {
            foreach (KeyValuePair<string, string> entry in metadata)
            {
                headers.TryAddWithoutValidation(entry.Key, entry.Value);
            }
        }

        if (timeout is { } local)
        {
            // Enforced here too: a server that ignores grpc-timeout must not hang the caller.
            // (CancelAfter(0) fires on a timer thread, later; an expired deadline must not race.)
            if (local <= TimeSpan.Zero)
            {
                _cancellation.Cancel();
            }
            else
            {
                _cancellation.CancelAfter(local);
            }
        }

        _responseTask = channel.Invoker.SendAsync(_request, _cancellation.Token);
    }

    /// <summary>The last message read by <see cref="MoveNextAsync"/>.</summary>
    public byte[] Current { get; private set; } = [];

    /// <summary>The final status once the call ended; null while it runs.</summary>
    public GrpcStatus? Status => _status;

    /// <summary>Trailers once the call ended (the headers themselves for a Trailers-Only response).</summary>
    public GrpcMetadata Trailers => _trailers ??= _trailerSource is null ? GrpcMetadata.Empty : ToMetadata(_trailerSource);

    /// <summary>Waits for the response headers (for a Trailers-Only response, they hold the status too).</summary>
    public async Task<GrpcMetadata> ResponseHeadersAsync()
    {
        await EnsureResponseAsync().ConfigureAwait(false);
        return _response is null ? GrpcMetadata.Empty : ToMetadata(_response.Headers);
    }

    /// <summary>Reads the next response message into <see cref="Current"/>; false at the end of an OK call.</summary>
    public async ValueTask<bool> MoveNextAsync()
    {
        if (HasEnded())
        {
            return false;
        }

        try
        {
            await EnsureResponseAsync().ConfigureAwait(false);
            if (HasEnded())
            {
                return false; // A Trailers-Only OK response: no messages at all.
            }

            Stream body = _body!;
            int read = await body.ReadAtLeastAsync(_header, GrpcFrame.HeaderLength, throwOnEndOfStream: false, _cancellation.Token)
                .ConfigureAwait(false);
            if (read == 0)
            {
                // SocketsHttpHandler fills TrailingHeaders only once the body has been read to its end.
                EndWithTrailers(_response!.TrailingHeaders);
                return !HasEnded();
            }

            if (read < GrpcFrame.HeaderLength)
            {
                throw End(new GrpcStatus(StatusCode.Internal, "grpc: the response ended inside a message header"));
            }

            if (_header[0] != 0)
            {
                throw End(new GrpcStatus(StatusCode.Internal, "grpc: the server sent a compressed message, but only identity was offered"));
            }

            uint length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
            if (length > (uint)_channel.Options.MaxReceiveMessageBytes)
            {
                throw End(new GrpcStatus(StatusCode.ResourceExhausted,
                    $"grpc: received message larger than max ({length} vs. {_channel.Options.MaxReceiveMessageBytes})"));
            }

            byte[] message = length == 0 ? [] : new byte[length];
            await body.ReadExactlyAsync(message, _cancellation.Token).ConfigureAwait(false);
            Current = message;
            return true;
        }
        catch (GrpcStatusException)
        {
            throw;
        }
        catch (EndOfStreamException)
        {
            throw End(new GrpcStatus(StatusCode.Internal, "grpc: the response ended inside a message"));
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    /// <summary>Reads every response message.</summary>
    public async IAsyncEnumerable<byte[]> ReadAllAsync()
    {
        while (await MoveNextAsync().ConfigureAwait(false))
        {
            yield return Current;
        }
    }

    /// <summary>Reads the one response of a unary or client-streaming call, and its OK status.</summary>
    public async Task<byte[]> ReadSingleResponseAsync()
    {
        if (!await MoveNextAsync().ConfigureAwait(false))
        {
            throw End(new GrpcStatus(StatusCode.Internal, "grpc: the server sent no response message"));
        }

        byte[] response = Current;
        if (await MoveNextAsync().ConfigureAwait(false))
        {
            throw End(new GrpcStatus(StatusCode.Internal, "grpc: the server sent more than one response message"));
        }

        return response;
    }

    /// <summary>Writes one request message of a client- or bidi-streaming call, and flushes it.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> message)
    {
        StreamingContent content = _requestStream
            ?? throw new InvalidOperationException($"A {_type} call sends its request when it starts.");
        ThrowIfEnded();
        byte[] frame = ArrayPool<byte>.Shared.Rent(GrpcFrame.HeaderLength + message.Length);
        try
        {
            Stream stream = await GetRequestStreamAsync(content).ConfigureAwait(false);
            GrpcFrame.WriteHeader(frame, message.Length);
            message.Span.CopyTo(frame.AsSpan(GrpcFrame.HeaderLength));
            await stream.WriteAsync(frame.AsMemory(0, GrpcFrame.HeaderLength + message.Length), _cancellation.Token).ConfigureAwait(false);
            await stream.FlushAsync(_cancellation.Token).ConfigureAwait(false);
        }
        catch (GrpcStatusException)
        {
            throw;
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Half-closes: tells the server no more requests follow.</summary>
    public ValueTask CompleteRequestsAsync()
    {
        _requestStream?.Complete();
        return default;
    }

    /// <summary>Cancels the call: the stream is reset and the status becomes Cancelled.</summary>
    public void Cancel()
    {
        if (_status is null)
        {
            _cancelledByCaller = true;
            _cancellation.Cancel();
        }
    }

    private async Task<Stream> GetRequestStreamAsync(StreamingContent content)
    {
        Task<Stream> streamTask = content.StreamTask;
        if (!streamTask.IsCompleted)
        {
            // If sending the request fails (say the connection is refused), the body is never asked for.
            await Task.WhenAny(streamTask, _responseTask).WaitAsync(_cancellation.Token).ConfigureAwait(false);
            if (!streamTask.IsCompleted)
            {
                await EnsureResponseAsync().ConfigureAwait(false);
                if (HasEnded())
                {
                    throw new InvalidOperationException("The server already ended the call.");
                }
            }
        }

        return await content.GetStreamForWriteAsync(_cancellation.Token).ConfigureAwait(false);
    }

    private async ValueTask EnsureResponseAsync()
    {
        if (_response is not null)
        {
            return;
        }

        HttpResponseMessage response;
        try
        {
            response = await _responseTask.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Fail(e);
        }

        _response = response;
        if (TryReadStatus(response.Headers, out GrpcStatus status))
        {
            // Trailers-Only: the status came in the one HEADERS frame; there is no body.
            End(status, response.Headers);
            return;
        }

        if (response.StatusCode != HttpStatusCode.OK)
        {
            End(new GrpcStatus(FromHttpStatus(response.StatusCode),
                $"unexpected HTTP status code received from server: {(int)response.StatusCode} ({response.ReasonPhrase})"));
            return;
        }

        string? contentType = response.Content.Headers.ContentType?.MediaType;
        if (!GrpcHeaders.IsSupportedContentType(contentType))
        {
            End(new GrpcStatus(StatusCode.Internal, $"transport: received unexpected content-type \"{contentType}\""));
            return;
        }

        try
        {
            _body = await response.Content.ReadAsStreamAsync(_cancellation.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    private void EndWithTrailers(HttpResponseHeaders trailers)
    {
        End(TryReadStatus(trailers, out GrpcStatus status)
            ? status
            : new GrpcStatus(StatusCode.Internal, "server closed the stream without sending trailers"), trailers);
    }

    /// <summary>True when the call ended OK; throws when it ended with an error; false while it runs.</summary>
    private bool HasEnded()
    {
        ThrowIfEnded();
        return _status is not null;
    }

    private void ThrowIfEnded()
    {
        if (_status is { } status && !status.IsOk)
        {
            throw new GrpcStatusException(status, Trailers);
        }
    }

    private GrpcStatusException End(GrpcStatus status, HttpHeaders? trailers = null)
    {
        if (_status is null)
        {
            _status = status;
            _trailerSource = trailers;
            _requestStream?.Complete();
            if (!status.IsOk)
            {
                _cancellation.Cancel(); // Reset the stream if it is still open; nobody reads it now.
            }
        }

        return new GrpcStatusException(_status.Value, Trailers);
    }

    private GrpcStatusException Fail(Exception e)
    {
        if (_status is { IsOk: false })
        {
            return new GrpcStatusException(_status.Value, Trailers);
        }

        if (_cancellation.IsCancellationRequested && e is OperationCanceledException or HttpRequestException or IOException)
        {
            bool byCaller = _cancelledByCaller || _callerToken.IsCancellationRequested;
            _status = byCaller ? s_cancelled : s_deadline;
            return new GrpcStatusException(_status.Value, GrpcMetadata.Empty, e);
        }

        GrpcStatus status = e switch
        {
            HttpProtocolException protocol => new GrpcStatus(FromHttp2ErrorCode(protocol.ErrorCode),
                $"stream terminated by RST_STREAM with error code: {Http2ErrorName(protocol.ErrorCode)}"),
            HttpRequestException or IOException => new GrpcStatus(StatusCode.Unavailable, e.Message),
            _ => new GrpcStatus(StatusCode.Internal, e.Message),
        };
        End(status);
        return new GrpcStatusException(status, GrpcMetadata.Empty, e);
    }

    private static bool TryReadStatus(HttpHeaders headers, out GrpcStatus status)
    {
        // NonValidated: no parsing, no enumerator allocations; these are plain ASCII values.
        if (!headers.NonValidated.TryGetValues(GrpcHeaders.Status, out HeaderStringValues codes))
        {
            status = default;
            return false;
        }

        string message = headers.NonValidated.TryGetValues(GrpcHeaders.Message, out HeaderStringValues messages)
            ? PercentEncoding.Decode(messages.ToString())
            : "";
        status = new GrpcStatus(GrpcHeaders.ParseStatusCode(codes.ToString()), message);
        return true;
    }

    private static GrpcMetadata ToMetadata(HttpHeaders headers)
    {
        var metadata = new GrpcMetadata();
        foreach (KeyValuePair<string, IEnumerable<string>> header in headers)
        {
            foreach (string value in header.Value)
            {
                metadata.Add(header.Key, value);
            }
        }

        return metadata;
    }

    // The gRPC spec's mapping for responses that carry no grpc-status.
    private static StatusCode FromHttpStatus(HttpStatusCode code) => (int)code switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    // grpc-go's mapping of RST_STREAM / GOAWAY error codes.
    private static StatusCode FromHttp2ErrorCode(long code) => code switch
    {
        0x3 or 0xb => StatusCode.ResourceExhausted, // FLOW_CONTROL_ERROR, ENHANCE_YOUR_CALM
        0x7 => StatusCode.Unavailable,               // REFUSED_STREAM
        0x8 => StatusCode.Cancelled,                 // CANCEL
        0xc => StatusCode.PermissionDenied,          // INADEQUATE_SECURITY
        _ => StatusCode.Internal,
    };

    private static string Http2ErrorName(long code) => code switch
    {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => $"0x{code:x}",
    };

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_status is null)
        {
            _cancelledByCaller = true;
            _cancellation.Cancel();
            _status = s_cancelled;
        }

        _requestStream?.Complete();
        _body?.Dispose();
        _response?.Dispose();
        _request.Dispose();
        _cancellation.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }
}
