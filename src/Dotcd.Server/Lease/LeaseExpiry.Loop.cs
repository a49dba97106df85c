using Dotcd.Api.Etcdserverpb;
using Dotcd.Storage;

namespace Dotcd.Server.Leases;

public sealed partial class LeaseExpiry
{
    private const int MaxPendingRevokes = 16; // etcd's maxPendingRevokes.

    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously); // Completed by the apply thread: look now.

    /// <summary>
    /// The leader's expiry loop (etcd's runLoop plus revokeExpiredLeases): looks when the next
    /// expiry or checkpoint is due (at least every MaxSleep) and as soon as an applied entry
    /// changed the leases (so a lease's clock starts when it is granted), proposes a LeaseRevoke for every
    /// expired lease and a LeaseCheckpoint batch for the due checkpoints. propose applies one
    /// request through raft and throws the etcd error it produced. Runs until cancelled.
    /// </summary>
    public async Task RunAsync(Func<InternalRaftRequest, CancellationToken, Task> propose, IStorageLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(propose);
        ArgumentNullException.ThrowIfNull(log);
        using var pending = new SemaphoreSlim(MaxPendingRevokes);
        var running = new List<Task>();
        // Continuations run asynchronously: the apply thread only flips the signal, never runs the loop.
        _lessor.OnEventsQueued(() => Volatile.Read(ref _wake).TrySetResult());
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref _wake, wake); // Armed before looking: an event after the look wakes the next sleep.
                LeaseWork work = Poll();
                foreach (long id in work.Expired)
                {
                    await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
                    running.Add(RevokeAsync(id, propose, pending, log, cancellationToken));
                }

                if (work.Checkpoints.Count > 0)
                {
                    var request = new LeaseCheckpointRequest();
                    request.Checkpoints.AddRange(work.Checkpoints);
                    running.Add(CheckpointAsync(request, propose, log, cancellationToken));
                }

                running.RemoveAll(static t => t.IsCompleted);
                long waitTicks = Math.Min(work.WaitTicks, _options.MaxSleep.Ticks);
                if (waitTicks > 0)
                {
                    using var sleep = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    Task delay = Task.Delay(TimeSpan.FromTicks(waitTicks), _time, sleep.Token);
                    await Task.WhenAny(delay, wake.Task).ConfigureAwait(false);
                    await sleep.CancelAsync().ConfigureAwait(false); // Releases the timer when woken early.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            _lessor.OnEventsQueued(null);
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task RevokeAsync(long id, Func<InternalRaftRequest, CancellationToken, Task> propose, SemaphoreSlim pending,
        IStorageLog log, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Yield();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RetryInterval);
            await propose(new InternalRaftRequest { LeaseRevoke = new LeaseRevokeRequest { ID = id } }, timeout.Token).ConfigureAwait(false);
            _lessor.Metrics?.Expired.Inc();
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // Looked at again after RetryInterval while it stays expired here.
            log.Write(StorageLogLevel.Warn, "failed to revoke lease", ("lease-id", Lessor.Hex(id)), ("error", e.Message));
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            pending.Release();
        }
    }

    private async Task CheckpointAsync(LeaseCheckpointRequest request, Func<InternalRaftRequest, CancellationToken, Task> propose,
        IStorageLog log, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Yield();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RetryInterval);
            await propose(new InternalRaftRequest { LeaseCheckpoint = request }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            log.Write(StorageLogLevel.Warn, "failed to checkpoint leases", ("count", request.Checkpoints.Count), ("error", e.Message));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
