using Dotcd.Api.Etcdserverpb;
using Dotcd.Server.Apply;
using Dotcd.Server.RaftLoop;
using Dotcd.Storage;
using Google.Protobuf;

namespace Dotcd.Server.Composition;

/// <summary>
/// etcd's v3compactor: proposes Compact requests so history does not grow without bound.
/// Periodic mode keeps a window of time, revision mode a number of revisions. Only the leader
/// compacts (etcd pauses the compactor on followers); time comes only from the TimeProvider.
/// </summary>
internal sealed class AutoCompactor : IAsyncDisposable
{
    /// <summary>How often revision mode looks (etcd's revInterval).</summary>
    public static readonly TimeSpan RevisionInterval = TimeSpan.FromMinutes(5);

    private readonly Func<long> _currentRevision;
    private readonly Func<bool> _isLeader;
    private readonly Func<long, CancellationToken, Task<ApplyResult>> _compact;
    private readonly TimeProvider _time;
    private readonly IStorageLog _log;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public AutoCompactor(Func<long> currentRevision, Func<bool> isLeader, Func<long, CancellationToken, Task<ApplyResult>> compact,
        TimeProvider time, IStorageLog log)
    {
        _currentRevision = currentRevision;
        _isLeader = isLeader;
        _compact = compact;
        _time = time;
        _log = log;
    }

    /// <summary>A compactor that proposes through a raft host.</summary>
    public static AutoCompactor ForRaft(RaftNodeHost raft, Func<long> currentRevision, TimeProvider time, IStorageLog log) =>
        new(currentRevision, () => raft.IsLeader,
            (revision, ct) => raft.ProposeAsync(new InternalRaftRequest { Compaction = new CompactionRequest { Revision = revision } }.ToByteArray(), ct),
            time, log);

    public void StartPeriodic(TimeSpan period) => _loop = Task.Run(() => RunPeriodicAsync(period, _stop.Token));

    public void StartRevision(long retention) => _loop = Task.Run(() => RunRevisionAsync(retention, _stop.Token));

    // etcd's Periodic.Run: sample the revision every tenth of the period (at most an hour), and
    // once a full period has passed since the last success, compact at the oldest sample, then
    // again every compact interval.
    private async Task RunPeriodicAsync(TimeSpan period, CancellationToken stop)
    {
        TimeSpan capped = period > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : period;
        TimeSpan retryInterval = capped / 10;
        TimeSpan compactInterval = capped;
        int retentions = (int)(period / retryInterval) + 1;
        var revisions = new Queue<long>();
        DateTimeOffset lastSuccess = _time.GetUtcNow();
        TimeSpan baseInterval = period;
        while (!stop.IsCancellationRequested)
        {
            revisions.Enqueue(_currentRevision());
            if (revisions.Count > retentions)
            {
                revisions.Dequeue(); // The head is always the revision of one period ago.
            }

            if (!await DelayAsync(retryInterval, stop).ConfigureAwait(false))
            {
                return;
            }

            if (!_isLeader() || _time.GetUtcNow() - lastSuccess < baseInterval)
            {
                continue;
            }

            baseInterval = compactInterval;
            long revision = revisions.Peek();
            _log.Write(StorageLogLevel.Info, "starting auto periodic compaction", ("revision", revision), ("compact-period", period));
            if (await TryCompactAsync(revision, stop).ConfigureAwait(false) is not { } error)
            {
                _log.Write(StorageLogLevel.Info, "completed auto periodic compaction", ("revision", revision), ("compact-period", period),
                    ("took", _time.GetUtcNow() - lastSuccess));
                lastSuccess = _time.GetUtcNow();
            }
            else
            {
                _log.Write(StorageLogLevel.Warn, "failed auto periodic compaction", ("revision", revision), ("compact-period", period),
                    ("retry-interval", retryInterval), ("error", error));
            }
        }
    }

    // etcd's Revision.Run: every five minutes, compact at current - retention unless that is
    // not positive or was compacted last time.
    private async Task RunRevisionAsync(long retention, CancellationToken stop)
    {
        long previous = 0;
        while (await DelayAsync(RevisionInterval, stop).ConfigureAwait(false))
        {
            if (!_isLeader())
            {
                continue;
            }

            long revision = _currentRevision() - retention;
            if (revision <= 0 || revision == previous)
            {
                continue;
            }

            _log.Write(StorageLogLevel.Info, "starting auto revision compaction", ("revision", revision), ("revision-compaction-retention", retention));
            if (await TryCompactAsync(revision, stop).ConfigureAwait(false) is not { } error)
            {
                previous = revision;
                _log.Write(StorageLogLevel.Info, "completed auto revision compaction", ("revision", revision), ("revision-compaction-retention", retention));
            }
            else
            {
                _log.Write(StorageLogLevel.Warn, "failed auto revision compaction", ("revision", revision), ("revision-compaction-retention", retention),
                    ("retry-interval", RevisionInterval), ("error", error));
            }
        }
    }

    // Null on success or when the revision was compacted already (both count as done in etcd).
    private async Task<string?> TryCompactAsync(long revision, CancellationToken stop)
    {
        try
        {
            ApplyResult result = await _compact(revision, stop).ConfigureAwait(false);
            return result.Error is { } error && error.Message != EtcdErrors.Compacted.Message ? error.Message : null;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return "stopped";
        }
        catch (EtcdServerException e)
        {
            return e.Message;
        }
    }

    private async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, _time, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
