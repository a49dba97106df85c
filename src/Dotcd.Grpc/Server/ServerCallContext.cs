using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Dotcd.Grpc;

/// <summary>
/// One server call: request metadata and messages, deadline, cancellation, peer, and the
/// response side (headers, messages, trailers, status).
/// </summary>
/// <remarks>
/// Threading: one task may read requests while one other task writes responses (etcd's watch
/// has a receive loop and a send loop); two concurrent writers, or two concurrent readers, are
/// not allowed, as in grpc-go. Await each write before starting the next.
/// </remarks>
public sealed partial class ServerCallContext
{
    // Response state. Moves forward only: NotStarted -> Started -> Finished.
    private const int NotStarted = 0; // Nothing sent: an error now is a Trailers-Only response.
    private const int Started = 1;    // Headers (and maybe messages) sent: the status goes in trailers.
    private const int Finished = 2;   // Status written; further writes fail.

    private readonly HttpContext _httpContext;
    private readonly GrpcServerOptions _options;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;

    // Request side. Invariant: while _holdingRead, the pipe's last ReadResult is not yet advanced
    // and _unparsed is its tail after the messages handed out; _request (if any) lies before it.
    private ReadOnlySequence<byte> _unparsed;
    private ReadOnlySequence<byte> _request;
    private bool _holdingRead;
    private bool _inputCompleted;

    // Response side.
    private int _responseState;
    private long _messagesSent;
    private List<KeyValuePair<string, string>>? _trailers;
    private CountingBufferWriter? _countingWriter;
    private PooledBufferWriter? _scratch;

    // Only calls with a deadline have a second writer (the deadline timer ending the call), so only
    // they get a lock object of their own; the others lock `this`, which is never contended.
    // _pendingFlush is the handler's flush still in flight, guarded by _sync.
    private readonly object? _sync;
    private Task? _pendingFlush;
    private bool _finishing;
    private volatile bool _deadlineExceeded;

    internal ServerCallContext(
        HttpContext httpContext,
        GrpcMethod method,
        GrpcServerOptions options,
        CancellationToken cancellationToken,
        DateTime deadline,
        bool hasDeadlineTimer)
    {
        _httpContext = httpContext;
        _options = options;
        _input = httpContext.Request.BodyReader;
        _output = httpContext.Response.BodyWriter;
        Method = method;
        CancellationToken = cancellationToken;
        Deadline = deadline;
        _sync = hasDeadlineTimer ? new object() : null;
    }

    /// <summary>The method being called.</summary>
    public GrpcMethod Method { get; }

    /// <summary>
    /// The current request message: the only one for unary and server-streaming calls, the last one
    /// read for streaming-request calls. Valid until the next read or the end of the handler; copy
    /// (or parse) it before then.
    /// </summary>
    public ReadOnlySequence<byte> Request => _request;

    /// <summary>Cancelled when the client cancels or disconnects, the deadline passes, or the server stops.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The call's deadline in UTC from grpc-timeout, or <see cref="DateTime.MaxValue"/> when the client set none.</summary>
    public DateTime Deadline { get; }

    /// <summary>True when the deadline passed; the client then gets DEADLINE_EXCEEDED whatever the handler does.</summary>
    public bool IsDeadlineExceeded => _deadlineExceeded;

    /// <summary>The status sent when the handler returns normally. OK by default.</summary>
    public GrpcStatus Status { get; set; } = GrpcStatus.Ok;

    /// <summary>Request headers (gRPC metadata). HTTP/2 header names are lower case.</summary>
    public IHeaderDictionary RequestHeaders => _httpContext.Request.Headers;

    /// <summary>The client's address.</summary>
    public IPEndPoint? RemoteEndPoint =>
        _httpContext.Connection.RemoteIpAddress is { } address ? new IPEndPoint(address, _httpContext.Connection.RemotePort) : null;

    /// <summary>The client's address as "ip:port" (grpc-go's peer.Addr.String()).</summary>
    public string Peer => RemoteEndPoint?.ToString() ?? "";

    /// <summary>The TLS client certificate, when the client presented one (etcd's --client-cert-auth uses its CN).</summary>
    public X509Certificate2? ClientCertificate => _httpContext.Connection.ClientCertificate;

    /// <summary>Kestrel's id of the underlying connection; many calls share one.</summary>
    public string ConnectionId => _httpContext.Connection.Id;

    /// <summary>The ASP.NET Core request, for anything this type does not expose.</summary>
    public HttpContext HttpContext => _httpContext;

    /// <summary>The first value of a request header (for example "hasleader", "token", "authorization"), or null.</summary>
    public string? GetRequestHeader(string name)
    {
        StringValues values = _httpContext.Request.Headers[name];
        return values.Count == 0 ? null : values[0];
    }

    /// <summary>The decoded value of a binary ("-bin") request header, or null.</summary>
    public byte[]? GetRequestHeaderBytes(string name) =>
        GetRequestHeader(name) is { } value ? GrpcHeaders.DecodeBinaryHeader(value) : null;

    /// <summary>Adds a response header (lower-case name). Only before the first message (or <see cref="SendResponseHeadersAsync"/>).</summary>
    public void SetResponseHeader(string name, string value)
    {
        if (_responseState != NotStarted)
        {
            throw new InvalidOperationException("Response headers were already sent.");
        }

        _httpContext.Response.Headers.Append(name, value);
    }

    /// <summary>Adds a response trailer (lower-case name), sent with the status.</summary>
    public void SetResponseTrailer(string name, string value)
    {
        lock (_sync ?? this)
        {
            if (_finishing || _responseState == Finished)
            {
                throw new InvalidOperationException("The call already ended.");
            }

            (_trailers ??= []).Add(new(name, value));
        }
    }

    /// <summary>
    /// Reads the next request message of a streaming-request call into <see cref="Request"/>;
    /// false when the client half-closed. Ends the call with ResourceExhausted, Internal or
    /// Unimplemented (by throwing <see cref="GrpcStatusException"/>) on an oversized, malformed or
    /// compressed message.
    /// </summary>
    public ValueTask<bool> ReadRequestAsync()
    {
        if (!Method.HasStreamingRequest)
        {
            throw new InvalidOperationException($"{Method.Path} is {Method.Type}: its single request is already in Request.");
        }

        return ReadMessageAsync();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // Once per message: no allocation when it waits.
    internal async ValueTask<bool> ReadMessageAsync()
    {
        while (true)
        {
            if (_holdingRead)
            {
                FrameReadResult result = GrpcFrame.TryRead(
                    ref _unparsed, _options.MaxReceiveMessageBytes, out byte flags, out uint length, out ReadOnlySequence<byte> message);
                if (result == FrameReadResult.Message)
                {
                    CheckPayloadFormat(flags);
                    _request = message;
                    _options.Observer?.OnMessageReceived(Method);
                    return true;
                }

                if (result == FrameReadResult.TooLarge)
                {
                    throw new GrpcStatusException(StatusCode.ResourceExhausted,
                        $"grpc: received message larger than max ({length} vs. {_options.MaxReceiveMessageBytes})");
                }

                if (_inputCompleted)
                {
                    if (_unparsed.IsEmpty)
                    {
                        _request = default;
                        return false;
                    }

                    throw new GrpcStatusException(StatusCode.Internal,
                        $"grpc: request stream ended inside a message ({_unparsed.Length} bytes of a frame)");
                }

                // Keep the partial frame unconsumed but mark it examined, so the pipe waits for more.
                _input.AdvanceTo(_unparsed.Start, _unparsed.End);
                _holdingRead = false;
                _request = default;
            }

            ReadResult read = await _input.ReadAsync(CancellationToken).ConfigureAwait(false);
            if (read.IsCanceled)
            {
                throw new OperationCanceledException(CancellationToken);
            }

            _unparsed = read.Buffer;
            _inputCompleted = read.IsCompleted;
            _holdingRead = true;
        }
    }

    private void CheckPayloadFormat(byte flags)
    {
        if (flags == 0)
        {
            return;
        }

        // grpc-go's answers (checkRecvPayload) for a server without decompressors.
        if (flags != GrpcFrame.FlagCompressed)
        {
            throw new GrpcStatusException(StatusCode.Internal, $"grpc: received unexpected payload format {flags}");
        }

        string? encoding = GetRequestHeader(GrpcHeaders.Encoding);
        if (string.IsNullOrEmpty(encoding) || encoding == "identity")
        {
            throw new GrpcStatusException(StatusCode.Internal, "grpc: compressed flag set with identity or empty encoding");
        }

        var trailers = new GrpcMetadata().Add(GrpcHeaders.AcceptEncoding, "identity");
        throw new GrpcStatusException(
            new GrpcStatus(StatusCode.Unimplemented, $"grpc: Decompressor is not installed for grpc-encoding \"{encoding}\""),
            trailers);
    }

    internal void ReleaseInput()
    {
        if (_holdingRead)
        {
            _holdingRead = false;
            _request = default;
            _input.AdvanceTo(_unparsed.Start, _unparsed.Start);
        }
    }
}
