using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>
/// Keeps one lease alive until disposed: the client renews it at a third of its TTL over a
/// keepalive stream shared by every lease of the client. <see cref="Completion"/> completes when
/// the handle is disposed, and faults with <see cref="LeaseExpiredException"/> when the lease is
/// lost (or with <see cref="EtcdException"/> when the stream fails for good); <see cref="Lost"/>
/// is cancelled at the same moment. Disposing stops the renewals; it does not revoke the lease.
/// </summary>
public sealed class LeaseKeepAlive : IDisposable, IAsyncDisposable
{
    private readonly LeaseKeepAliveLoop _loop;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lost = new();
    private long _ttlSeconds;
    private long _renewals;

    internal LeaseKeepAlive(LeaseKeepAliveLoop loop, long leaseId)
    {
        _loop = loop;
        LeaseId = leaseId;
        _ = _completion.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public long LeaseId { get; }

    /// <summary>The TTL the server granted at the last renewal, in seconds; 0 before the first.</summary>
    public long TtlSeconds => Interlocked.Read(ref _ttlSeconds);

    /// <summary>How many renewals the server has answered.</summary>
    public long Renewals => Interlocked.Read(ref _renewals);

    /// <summary>Completes when disposed; faults when the lease is lost.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Cancelled when the lease is lost (not when the handle is disposed).</summary>
    public CancellationToken Lost => _lost.Token;

    internal void OnRenewed(LeaseKeepAliveResponse response)
    {
        Interlocked.Exchange(ref _ttlSeconds, response.TTL);
        Interlocked.Increment(ref _renewals);
    }

    internal void Fail(Exception failure)
    {
        if (_completion.TrySetException(failure))
        {
            _lost.Cancel();
        }
    }

    public void Dispose()
    {
        _loop.Remove(this);
        _completion.TrySetResult();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }
}
