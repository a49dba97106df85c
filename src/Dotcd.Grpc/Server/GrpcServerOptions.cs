using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Dotcd.Grpc;

/// <summary>Server-wide limits and hooks.</summary>
public sealed class GrpcServerOptions
{
    /// <summary>
    /// The largest request message accepted; a larger one ends the call with ResourceExhausted
    /// "grpc: received message larger than max (N vs. M)", as grpc-go says it. grpc-go's default is
    /// 4 MiB; etcd sets --max-request-bytes plus 512 KiB of gRPC overhead.
    /// </summary>
    public int MaxReceiveMessageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. Kestrel's default of 100 is far below etcd's
    /// (unlimited): one Kubernetes API server multiplexes hundreds of watches on a connection.
    /// </summary>
    public int MaxConcurrentStreamsPerConnection { get; set; } = int.MaxValue;

    /// <summary>
    /// Minimum request-body rate for unary and server-streaming calls and for HTTP/1.1 requests
    /// (Kestrel's default: 240 bytes/s after a 5 s grace). Calls with a request stream are exempt:
    /// an idle watch stream legitimately sends nothing for hours.
    /// </summary>
    public MinDataRate? MinRequestBodyDataRate { get; set; } = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));

    /// <summary>Minimum response rate when the client's socket pushes back (Kestrel's default).</summary>
    public MinDataRate? MinResponseDataRate { get; set; } = new(bytesPerSecond: 240, gracePeriod: TimeSpan.FromSeconds(5));

    /// <summary>
    /// How long an idle connection is kept. etcd keeps them forever; so do we by default.
    /// (Kestrel turns "infinite" into TimeSpan.MaxValue and overflows adding it to the clock, closing
    /// idle HTTP/2 connections at the next heartbeat; the host passes a year instead.)
    /// </summary>
    public TimeSpan IdleConnectionTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Repair request :authority values Kestrel would reject (etcd 3.4 clients send
    /// "http://host:port", 3.5.0 to 3.5.9 "#initially=[...]"); see <see cref="Http2AuthorityRewriter"/>.
    /// Costs one extra copy of the bytes each HTTP/2 connection receives.
    /// </summary>
    public bool RepairInvalidAuthority { get; set; } = true;

    /// <summary>Largest HTTP/1.1 (non-gRPC) request body, for the JSON gateway. gRPC bodies have no total limit.</summary>
    public long? MaxHttpRequestBodyBytes { get; set; } = 30_000_000;

    /// <summary>HTTP/2 connection receive window; null keeps Kestrel's 1 MiB.</summary>
    public int? InitialConnectionWindowBytes { get; set; }

    /// <summary>HTTP/2 per-stream receive window; null keeps Kestrel's 768 KiB.</summary>
    public int? InitialStreamWindowBytes { get; set; }

    /// <summary>Server-sent HTTP/2 keepalive pings after this much silence (etcd's --grpc-keepalive-interval); null: never.</summary>
    public TimeSpan? KeepAlivePingDelay { get; set; }

    /// <summary>Close the connection when a keepalive ping is not answered in time (etcd's --grpc-keepalive-timeout).</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a new cleartext connection may stay silent before it is handed to HTTP/1.1.</summary>
    public TimeSpan ProtocolDetectionTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Sees every call (metrics). Null: none.</summary>
    public IGrpcCallObserver? Observer { get; set; }

    /// <summary>Where Kestrel and handler failures are logged. Null: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }
}
