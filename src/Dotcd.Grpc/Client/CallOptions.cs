namespace Dotcd.Grpc;

/// <summary>Per-call settings: metadata, deadline and cancellation.</summary>
public readonly record struct CallOptions
{
    /// <summary>Request metadata, for example "token" (etcd auth) or "hasleader" = "true".</summary>
    public GrpcMetadata? Headers { get; init; }

    /// <summary>Time allowed for the call; sent as grpc-timeout and enforced locally too.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>An absolute deadline in UTC; the earlier of this and <see cref="Timeout"/> applies.</summary>
    public DateTime? Deadline { get; init; }

    /// <summary>Cancels the call (the stream is reset; the status is Cancelled).</summary>
    public CancellationToken CancellationToken { get; init; }

    internal TimeSpan? EffectiveTimeout()
    {
        TimeSpan? timeout = Timeout;
        if (Deadline is { } deadline)
        {
            TimeSpan untilDeadline = deadline.ToUniversalTime() - DateTime.UtcNow;
            timeout = timeout is { } t && t < untilDeadline ? t : untilDeadline;
        }

        return timeout;
    }
}
