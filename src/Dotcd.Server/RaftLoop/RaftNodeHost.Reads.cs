using System.Buffers.Binary;
using System.Threading.Channels;
using Dotcd.Raft;
using Dotcd.Storage;

namespace Dotcd.Server.RaftLoop;

// Linearizable reads (etcd's linearizableReadLoop): all callers waiting at one moment share one
// ReadIndex round; the leader confirms it still leads with a heartbeat round, then the callers
// wait until this member has applied up to the read index.
public sealed partial class RaftNodeHost
{
    private readonly Channel<bool> _readWaitSignal;  // Capacity 1: "someone waits for the next round".
    private readonly Channel<ReadState> _readStates; // Capacity 1, newest wins: the raft thread's latest answer.
    private TaskCompletionSource _readNotifier = NewSignal(); // The round new callers join; swapped when a round starts.
    private long _readIndexRounds;

    /// <summary>ReadIndex rounds started (each serves every caller that joined it).</summary>
    internal long ReadIndexRounds => Interlocked.Read(ref _readIndexRounds);

    /// <summary>
    /// Completes once a local read made after it returns reflects every write completed before
    /// it began. Fails with EtcdServerException: request timed out, leader changed, server stopped.
    /// </summary>
    public Task WaitLinearizableAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfStopped();
        Task round = Volatile.Read(ref _readNotifier).Task;
        _readWaitSignal.Writer.TryWrite(true);
        return round.WaitAsync(cancellationToken);
    }

    private async Task RunReadLoopAsync()
    {
        CancellationToken stop = _stopping.Token;
        Task<bool>? signal = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                ulong requestId = _ids.Next();
                Task leaderChanged = Volatile.Read(ref _leaderChangedSignal).Task;
                signal ??= _readWaitSignal.Reader.WaitToReadAsync(stop).AsTask();
                await Task.WhenAny(signal, leaderChanged).ConfigureAwait(false);
                // A new leader: start over watching for the next one, even when callers are waiting
                // too (their signal stays), or this round would fail at once with "leader changed".
                if (leaderChanged.IsCompleted) continue;
                if (!await signal.ConfigureAwait(false)) return;
                signal = null;
                _readWaitSignal.Reader.TryRead(out _);

                // Callers from now on wait for the next round: this round's ReadIndex is sent
                // after every one of its callers arrived.
                TaskCompletionSource round = Interlocked.Exchange(ref _readNotifier, NewSignal());
                Interlocked.Increment(ref _readIndexRounds);
                try
                {
                    ulong readIndex = await RequestCurrentIndexAsync(leaderChanged, requestId, stop).ConfigureAwait(false);
                    if (Volatile.Read(ref _appliedIndex) < readIndex)
                    {
                        await _appliedWait.WaitAsync(readIndex).WaitAsync(stop).ConfigureAwait(false);
                    }
                    round.TrySetResult();
                }
                catch (EtcdServerException e)
                {
                    round.TrySetException(e);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    round.TrySetException(EtcdServerError.Stopped.ToException());
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            RequestStop(e);
        }
        finally
        {
            FailReaders(EtcdServerError.Stopped);
        }
    }

    private async Task<ulong> RequestCurrentIndexAsync(Task leaderChanged, ulong requestId, CancellationToken stop)
    {
        var context = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(context, requestId);
        SendReadIndex(context);

        using var round = CancellationTokenSource.CreateLinkedTokenSource(stop);
        Task errorTimer = Task.Delay(_options.EffectiveRequestTimeout, _time, round.Token);
        Task retryTimer = Task.Delay(_options.ReadIndexRetryInterval, _time, round.Token);
        Task<bool>? readState = null;
        try
        {
            while (true)
            {
                readState ??= _readStates.Reader.WaitToReadAsync(round.Token).AsTask();
                Task first = await Task.WhenAny(readState, leaderChanged, retryTimer, errorTimer).ConfigureAwait(false);
                stop.ThrowIfCancellationRequested();
                if (first == readState)
                {
                    readState = null;
                    while (_readStates.Reader.TryRead(out ReadState state))
                    {
                        if (state.RequestContext.Span.SequenceEqual(context)) return state.Index;
                        // An answer to an earlier round that timed out: this round still waits for its own.
                        Metrics.ReadIndexWasSlow();
                        _logger.Write(StorageLogLevel.Warn, "ignored out-of-date read index response; local node read indexes queueing up and waiting to be in sync with leader",
                            ("sent-request-id", requestId),
                            ("received-request-id", state.RequestContext.Length == 8 ? BinaryPrimitives.ReadUInt64BigEndian(state.RequestContext.Span) : 0UL));
                    }
                }
                else if (first == leaderChanged)
                {
                    Metrics.ReadIndexHasFailed();
                    throw EtcdServerError.LeaderChanged.ToException();
                }
                else if (first == retryTimer)
                {
                    _logger.Write(StorageLogLevel.Warn, "waiting for ReadIndex response took too long, retrying",
                        ("sent-request-id", requestId), ("retry-timeout", _options.ReadIndexRetryInterval));
                    SendReadIndex(context);
                    retryTimer = Task.Delay(_options.ReadIndexRetryInterval, _time, round.Token);
                }
                else
                {
                    Metrics.ReadIndexWasSlow();
                    _logger.Write(StorageLogLevel.Warn, "timed out waiting for read index response (local node might have slow network)",
                        ("timeout", _options.EffectiveRequestTimeout));
                    throw EtcdServerError.Timeout.ToException();
                }
            }
        }
        finally
        {
            round.Cancel(); // Releases the timers and the pending channel wait.
        }
    }

    private void SendReadIndex(byte[] context) => EnqueueLocal(node => node.ReadIndex(context));

    private void FailReaders(EtcdServerError error)
    {
        TaskCompletionSource round = Volatile.Read(ref _readNotifier);
        round.TrySetException(error.ToException());
    }
}
