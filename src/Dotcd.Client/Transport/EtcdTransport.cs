using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Client;

/// <summary>Whether a call may be repeated on another endpoint after a failure that left it in doubt.</summary>
internal enum CallSafety
{
    /// <summary>Reads and other idempotent calls: retried elsewhere on any Unavailable.</summary>
    Idempotent,

    /// <summary>Writes: retried elsewhere only when no server can have received the request.</summary>
    NotIdempotent,
}

/// <summary>One configured endpoint and its channel.</summary>
internal sealed class Endpoint(string address, GrpcChannel channel)
{
    public string Address { get; } = address;

    public GrpcChannel Channel { get; } = channel;
}

/// <summary>
/// The endpoints of one client, and the rule that moves calls between them: a call starts on the
/// preferred endpoint; when that endpoint fails in a way that says it is unreachable or unable to
/// serve, the preference moves to the next one. Whether the failed call itself is repeated there
/// depends on its <see cref="CallSafety"/>: a write is repeated only if the request never left
/// this process, because a request that may have been delivered may also have been applied.
/// Watch and Lease streams start from <see cref="Preferred"/> and report failures through
/// <see cref="ReportUnavailable"/>.
/// </summary>
internal sealed class EtcdTransport : IDisposable
{
    private readonly Endpoint[] _endpoints; // Invariant: at least one; fixed for the client's life.
    private readonly GrpcChannelOptions _channelOptions;
    private readonly TimeSpan? _defaultCallTimeout;
    private readonly bool _usesTls;
    private readonly KeyValuePair<string, string>[] _metadata; // Copied at construction: later edits to the options do not race calls.
    private int _preferred;                 // Index into _endpoints; moves forward only past a failed endpoint.
    private volatile string? _token;

    public EtcdTransport(EtcdClientOptions options)
    {
        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one endpoint is required.", nameof(options));
        }

        _defaultCallTimeout = options.DefaultCallTimeout;
        _usesTls = options.UsesTls;
        _token = options.Token;
        _metadata = [.. options.Metadata, .. options.RequireLeader ? [new KeyValuePair<string, string>("hasleader", "true")] : Array.Empty<KeyValuePair<string, string>>()];
        _channelOptions = new GrpcChannelOptions
        {
            ConnectTimeout = options.DialTimeout,
            KeepAlivePingDelay = options.KeepAliveTime,
            KeepAlivePingTimeout = options.KeepAliveTimeout,
            MaxReceiveMessageBytes = options.MaxReceiveMessageBytes,
            TrustedCertificateAuthorities = options.TrustedCertificateAuthorities,
            ClientCertificates = options.ClientCertificate is { } certificate ? [certificate] : null,
            SkipServerCertificateValidation = options.InsecureSkipTlsVerify,
            UserAgent = "dotcd-client/1.0",
        };
        _endpoints = new Endpoint[options.Endpoints.Count];
        for (int i = 0; i < _endpoints.Length; i++)
        {
            string address = NormalizeAddress(options.Endpoints[i]);
            _endpoints[i] = new Endpoint(address, GrpcChannel.Create(address, _channelOptions));
        }
    }

    public IReadOnlyList<string> Endpoints => Array.ConvertAll(_endpoints, endpoint => endpoint.Address);

    public string? Token
    {
        get => _token;
        set => _token = value;
    }

    /// <summary>The endpoint new calls try first.</summary>
    public Endpoint Preferred => _endpoints[Volatile.Read(ref _preferred)];

    /// <summary>Moves the preference past an endpoint that failed, unless another caller already did.</summary>
    public void ReportUnavailable(Endpoint endpoint)
    {
        int index = Array.IndexOf(_endpoints, endpoint);
        if (index >= 0)
        {
            Interlocked.CompareExchange(ref _preferred, (index + 1) % _endpoints.Length, index);
        }
    }

    /// <summary>Calls a unary method, failing over between endpoints as <paramref name="safety"/> allows.</summary>
    public Task<TResponse> UnaryAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
        CallSafety safety, EtcdCallOptions call, string? endpoint = null)
        where TResponse : IMessage<TResponse>
    {
        byte[] bytes = request.ToByteArray();
        return RunAsync(async (channel, options) =>
        {
            byte[] response = await channel.UnaryAsync(method, bytes, options).ConfigureAwait(false);
            return parser.ParseFrom(response);
        }, safety, call, endpoint, canRetry: null);
    }

    /// <summary>
    /// Calls a server-streaming method and hands each response to <paramref name="onMessage"/>. A
    /// failure is retried elsewhere only before the first response was handed over.
    /// </summary>
    public Task ServerStreamingAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
        Func<TResponse, CancellationToken, ValueTask> onMessage, CallSafety safety, EtcdCallOptions call, string? endpoint = null)
        where TResponse : IMessage<TResponse>
    {
        byte[] bytes = request.ToByteArray();
        bool delivered = false;
        return RunAsync(async (channel, options) =>
        {
            using GrpcClientCall stream = channel.StartServerStreaming(method, bytes, options);
            while (await stream.MoveNextAsync().ConfigureAwait(false))
            {
                delivered = true;
                await onMessage(parser.ParseFrom(stream.Current), call.CancellationToken).ConfigureAwait(false);
            }

            return true;
        }, safety, call, endpoint, canRetry: () => !delivered);
    }

    private async Task<T> RunAsync<T>(Func<GrpcChannel, CallOptions, Task<T>> attempt, CallSafety safety,
        EtcdCallOptions call, string? endpoint, Func<bool>? canRetry)
    {
        CallOptions options = CreateCallOptions(call);
        if (endpoint is not null)
        {
            return await RunOnAsync(attempt, options, call, endpoint).ConfigureAwait(false);
        }

        int first = Volatile.Read(ref _preferred);
        for (int i = 0; ; i++)
        {
            Endpoint current = _endpoints[(first + i) % _endpoints.Length];
            try
            {
                return await attempt(current.Channel, options).ConfigureAwait(false);
            }
            catch (GrpcStatusException e)
            {
                ThrowIfCancelledByCaller(e, call.CancellationToken);
                bool sent = RequestMayHaveBeenSent(e);
                if (!sent || e.StatusCode == StatusCode.Unavailable)
                {
                    ReportUnavailable(current);
                }

                bool retryable = !sent || (safety == CallSafety.Idempotent && e.StatusCode == StatusCode.Unavailable);
                if (!retryable || i + 1 >= _endpoints.Length || canRetry?.Invoke() == false)
                {
                    throw new EtcdException(e, current.Address, sent);
                }
            }
        }
    }

    private async Task<T> RunOnAsync<T>(Func<GrpcChannel, CallOptions, Task<T>> attempt, CallOptions options,
        EtcdCallOptions call, string endpoint)
    {
        string address = NormalizeAddress(endpoint);
        Endpoint? known = Array.Find(_endpoints, e => e.Address == address);
        GrpcChannel? own = known is null ? GrpcChannel.Create(address, _channelOptions) : null;
        try
        {
            return await attempt(known?.Channel ?? own!, options).ConfigureAwait(false);
        }
        catch (GrpcStatusException e)
        {
            ThrowIfCancelledByCaller(e, call.CancellationToken);
            throw new EtcdException(e, address, RequestMayHaveBeenSent(e));
        }
        finally
        {
            own?.Dispose();
        }
    }

    /// <summary>
    /// False when the failure proves no server received the request: the connection (or its TLS
    /// handshake) was never established, or HTTP/2 said the stream was refused unprocessed.
    /// Everything else, a connection lost mid-call above all, leaves it in doubt.
    /// </summary>
    internal static bool RequestMayHaveBeenSent(GrpcStatusException e)
    {
        for (Exception? inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            switch (inner)
            {
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }:
                    return false;
                case HttpProtocolException { ErrorCode: 0x7 }: // REFUSED_STREAM
                    return false;
                case TimeoutException when e.StatusCode != StatusCode.DeadlineExceeded:
                    return false; // SocketsHttpHandler's ConnectTimeout: the dial timed out.
            }
        }

        return true;
    }

    private static void ThrowIfCancelledByCaller(GrpcStatusException e, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The etcd call was cancelled.", e, cancellationToken);
        }
    }

    /// <summary>The gRPC options of one call: its absolute deadline (shared by every attempt) and its metadata.</summary>
    internal CallOptions CreateCallOptions(EtcdCallOptions call)
    {
        DateTime? deadline = call.Deadline?.ToUniversalTime();
        if ((call.Timeout ?? _defaultCallTimeout) is { } timeout)
        {
            DateTime fromTimeout = DateTime.UtcNow + timeout;
            deadline = deadline is { } d && d < fromTimeout ? d : fromTimeout;
        }

        var metadata = new GrpcMetadata();
        foreach (KeyValuePair<string, string> entry in _metadata)
        {
            metadata.Add(entry.Key, entry.Value);
        }

        if (_token is { } token)
        {
            metadata.Add("token", token);
        }

        if (call.Metadata is { } extra)
        {
            foreach (KeyValuePair<string, string> entry in extra)
            {
                metadata.Add(entry.Key, entry.Value);
            }
        }

        return new CallOptions
        {
            Deadline = deadline,
            CancellationToken = call.CancellationToken,
            Headers = metadata.Count > 0 ? metadata : null,
        };
    }

    private string NormalizeAddress(string endpoint)
    {
        string address = endpoint.Trim().TrimEnd('/');
        if (!address.Contains("://", StringComparison.Ordinal))
        {
            address = (_usesTls ? "https://" : "http://") + address;
        }

        return address;
    }

    public void Dispose()
    {
        foreach (Endpoint endpoint in _endpoints)
        {
            endpoint.Channel.Dispose();
        }
    }
}
