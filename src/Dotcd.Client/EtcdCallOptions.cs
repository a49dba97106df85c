namespace Dotcd.Client;

/// <summary>
/// Per-call settings: a deadline (relative, absolute, or both: the earlier wins), cancellation,
/// and extra metadata. A deadline covers every attempt of the call, failovers included.
/// </summary>
public readonly record struct EtcdCallOptions
{
    /// <summary>Time allowed for the whole call; overrides <see cref="EtcdClientOptions.DefaultCallTimeout"/>.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>An absolute deadline (UTC or local time).</summary>
    public DateTime? Deadline { get; init; }

    /// <summary>Cancels the call; the caller then sees an <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Metadata for this call only, sent after the client's own.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Lets a plain token stand for call options: <c>GetAsync("k", call: token)</c>.</summary>
    public static implicit operator EtcdCallOptions(CancellationToken cancellationToken) =>
        new() { CancellationToken = cancellationToken };

    /// <summary>A call limited to <paramref name="timeout"/>.</summary>
    public static EtcdCallOptions WithTimeout(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        new() { Timeout = timeout, CancellationToken = cancellationToken };
}
