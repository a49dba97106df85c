using Dotcd.Api.Etcdserverpb;
using Dotcd.Server.Apply;
using Dotcd.Server.Composition;
using Dotcd.Server.RaftLoop;
using Dotcd.Storage;

namespace Dotcd.Server.Tests.Composition;

public sealed class AutoCompactorTests
{
    private readonly ManualTime _time = new();
    private readonly List<long> _compacted = [];
    private long _revision = 1;
    private bool _isLeader = true;

    [Fact]
    public async Task RevisionModeCompactsRetentionBehindEveryFiveMinutesButNeverTwiceAtOneRevision()
    {
        await using AutoCompactor compactor = NewCompactor();
        compactor.StartRevision(retention: 10);
        await _time.WaitForTimerAsync();

        _revision = 8; // Below the retention: nothing to compact.
        await TickAsync(AutoCompactor.RevisionInterval);
        _revision = 25;
        await TickAsync(AutoCompactor.RevisionInterval);
        await TickAsync(AutoCompactor.RevisionInterval); // Same revision again: skipped.
        _revision = 40;
        await TickAsync(TimeSpan.FromMinutes(4)); // Not yet five minutes.
        await TickAsync(TimeSpan.FromMinutes(1));

        Assert.Equal([15, 30], _compacted);
    }

    [Fact]
    public async Task PeriodicModeCompactsAtTheRevisionOfOnePeriodAgo()
    {
        await using AutoCompactor compactor = NewCompactor();
        _revision = 100;
        compactor.StartPeriodic(TimeSpan.FromMinutes(10)); // Samples every minute.
        await _time.WaitForTimerAsync();

        for (int minute = 1; minute <= 9; minute++)
        {
            _revision = 100 + minute * 10;
            await TickAsync(TimeSpan.FromMinutes(1));
        }

        Assert.Empty(_compacted); // A full period has not passed yet.
        _revision = 200;
        await TickAsync(TimeSpan.FromMinutes(1));
        Assert.Equal([100], _compacted);

        for (int minute = 11; minute <= 20; minute++)
        {
            _revision = 100 + minute * 10;
            await TickAsync(TimeSpan.FromMinutes(1));
        }

        // Then once per period, at the oldest sample kept: the one taken a period before the last.
        Assert.Equal([100, 190], _compacted);
    }

    [Fact]
    public async Task AFollowerDoesNotCompact()
    {
        await using AutoCompactor compactor = NewCompactor();
        _isLeader = false;
        _revision = 1000;
        compactor.StartRevision(retention: 10);
        await _time.WaitForTimerAsync();

        await TickAsync(AutoCompactor.RevisionInterval);
        await TickAsync(AutoCompactor.RevisionInterval);

        Assert.Empty(_compacted);
    }

    private AutoCompactor NewCompactor() => new(
        () => Volatile.Read(ref _revision),
        () => Volatile.Read(ref _isLeader),
        (revision, _) =>
        {
            lock (_compacted)
            {
                _compacted.Add(revision);
            }

            return Task.FromResult(new ApplyResult { Response = new CompactionResponse() });
        },
        _time,
        StorageLog.None);

    // Moves the clock and waits until the compactor has handled it and waits again.
    private async Task TickAsync(TimeSpan by)
    {
        if (_time.Advance(by) > 0)
        {
            await _time.WaitForTimerAsync();
        }
    }
}
