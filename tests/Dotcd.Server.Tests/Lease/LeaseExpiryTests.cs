using Dotcd.Api.Etcdserverpb;
using Dotcd.Server.Leases;
using Dotcd.Storage;

namespace Dotcd.Server.Tests.Leases;

/// <summary>The leader's clock over the leases, on a fake clock: nothing here waits for real time.</summary>
public sealed class LeaseExpiryTests : IDisposable
{
    private readonly LessorHarness _h = new(minTtlSeconds: 2);
    private readonly FakeClock _clock = new();
    private ulong _leaderTerm;   // The term this member leads; 0: not leader.
    private LeaseExpiry? _expiry;

    public void Dispose() => _h.Dispose();

    private LeaseExpiry NewExpiry(TimeSpan? checkpointInterval = null) =>
        _expiry = new(_h.Lessor, _clock, term => term == _leaderTerm, new LeaseExpiryOptions
        {
            ExtendOnPromote = TimeSpan.FromSeconds(1),
            RetryInterval = TimeSpan.FromSeconds(7),
            CheckpointInterval = checkpointInterval,
        });

    // What a member does when its own empty entry of a new term is applied; the loop looks at once.
    private void BecomeLeader(ulong term)
    {
        _leaderTerm = term;
        _h.Lessor.NewTermApplied(term);
        _expiry?.Poll();
    }

    // An applied grant; the loop, woken by it, looks at once.
    private void Grant(long id, long ttl)
    {
        _h.Grant(id, ttl);
        _expiry?.Poll();
    }

    [Fact]
    public void AMemberThatIsNotLeaderNeverExpiresAnything()
    {
        LeaseExpiry expiry = NewExpiry();
        Grant(1, 5);
        _h.Lessor.NewTermApplied(3); // Someone else's term.

        _clock.Advance(TimeSpan.FromHours(1));

        Assert.Empty(expiry.Poll().Expired);
        Assert.False(expiry.IsPrimary);
        Assert.Equal(long.MaxValue / 1_000_000_000, expiry.TimeToLive(1, keys: false)!.TTL);
    }

    [Fact]
    public void ALeaseExpiresOnlyOnceItsTtlHasPassed()
    {
        LeaseExpiry expiry = NewExpiry();
        BecomeLeader(2);
        Assert.True(expiry.IsPrimary);
        Grant(1, 5);
        Grant(2, 10);
        Assert.Equal(5, expiry.TimeToLive(1, keys: false)!.TTL); // Sees the grant: expiry = now + 5 s.

        _clock.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        LeaseWork early = expiry.Poll();
        Assert.Empty(early.Expired);
        Assert.Equal(1, early.WaitTicks); // The loop would wake exactly at the expiry.
        Assert.Equal(0, expiry.TimeToLive(1, keys: false)!.TTL); // Truncated, as Go's int64(d.Seconds()).

        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal([1L], expiry.Poll().Expired);
        Assert.Empty(expiry.Poll().Expired); // Looked at again only after the retry interval.

        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal([2L], expiry.Poll().Expired);
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal([1L], expiry.Poll().Expired); // Revoke of 1 never applied: proposed again after 7 s.
    }

    [Fact]
    public async Task RenewResetsTheExpiryToAFullTtl()
    {
        LeaseExpiry expiry = NewExpiry();
        BecomeLeader(2);
        Grant(1, 10);
        _clock.Advance(TimeSpan.FromSeconds(8));
        Assert.Equal(2, expiry.TimeToLive(1, keys: false)!.TTL);

        (RenewStatus status, long ttl) = await expiry.RenewAsync(1, null, CancellationToken.None);

        Assert.Equal((RenewStatus.Renewed, 10L), (status, ttl));
        Assert.Equal(10, expiry.TimeToLive(1, keys: false)!.TTL);
        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Empty(expiry.Poll().Expired);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([1L], expiry.Poll().Expired);
        Assert.Equal(RenewStatus.NotFound, (await expiry.RenewAsync(99, null, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task RenewingAnExpiredLeaseWaitsForItsRevoke()
    {
        LeaseExpiry expiry = NewExpiry();
        BecomeLeader(2);
        Grant(1, 3);
        _clock.Advance(TimeSpan.FromSeconds(3));

        Task<(RenewStatus Status, long TtlSeconds)> renew = expiry.RenewAsync(1, null, CancellationToken.None);
        await Task.Delay(50);
        Assert.False(renew.IsCompleted);
        _h.Revoke(1);

        Assert.Equal(RenewStatus.NotFound, (await renew.WaitAsync(TimeSpan.FromSeconds(10))).Status);
    }

    [Fact]
    public async Task AMemberThatStopsLeadingStopsExpiringAtOnce()
    {
        LeaseExpiry expiry = NewExpiry();
        BecomeLeader(2);
        Grant(1, 3);
        _clock.Advance(TimeSpan.FromSeconds(3));
        Task<(RenewStatus Status, long TtlSeconds)> waiting = expiry.RenewAsync(1, null, CancellationToken.None);

        _leaderTerm = 0;
        expiry.Demote();

        Assert.Empty(expiry.Poll().Expired);
        Assert.Equal(RenewStatus.NotPrimary, (await waiting.WaitAsync(TimeSpan.FromSeconds(10))).Status);
        Assert.Equal(RenewStatus.NotPrimary, (await expiry.RenewAsync(1, null, CancellationToken.None)).Status);
        Assert.False(expiry.WhenPrimary.IsCompleted);
    }

    [Fact]
    public void PromotionGivesEveryLeaseItsTtlPlusTheElectionTimeoutFromNow()
    {
        Grant(1, 10);
        Grant(2, 20);
        _clock.Advance(TimeSpan.FromMinutes(3)); // Time before promotion does not count.
        LeaseExpiry expiry = NewExpiry();
        BecomeLeader(5);

        Assert.Equal(11, expiry.TimeToLive(1, keys: false)!.TTL);
        Assert.Equal([1L, 2L], expiry.Leases());
        _clock.Advance(TimeSpan.FromSeconds(11) - TimeSpan.FromTicks(1));
        Assert.Empty(expiry.Poll().Expired);
        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal([1L], expiry.Poll().Expired);
    }

    [Fact]
    public void APromotedLeaderStartsFromTheCheckpointedRemainder()
    {
        Grant(1, 100);
        _h.InBatch(b => _h.Lessor.Checkpoint(b, new LeaseCheckpointRequest { Checkpoints = { new LeaseCheckpoint { ID = 1, RemainingTTL = 30 } } }));
        LeaseExpiry expiry = NewExpiry();

        BecomeLeader(4);

        Assert.Equal(31, expiry.TimeToLive(1, keys: false)!.TTL);
        Assert.Equal(100, expiry.TimeToLive(1, keys: false)!.GrantedTTL);
    }

    [Fact]
    public void CheckpointsAreDueEveryIntervalWithTheRemainingTtlRoundedUp()
    {
        LeaseExpiry expiry = NewExpiry(checkpointInterval: TimeSpan.FromSeconds(10));
        BecomeLeader(2);
        Grant(1, 60);
        Grant(2, 5); // Shorter than the interval: never checkpointed.
        Assert.Empty(expiry.Poll().Checkpoints);

        _clock.Advance(TimeSpan.FromSeconds(10.5));
        LeaseWork work = expiry.Poll();

        LeaseCheckpoint checkpoint = Assert.Single(work.Checkpoints);
        Assert.Equal(1, checkpoint.ID);
        Assert.Equal(50, checkpoint.RemainingTTL); // 49.5 s left, rounded up.
        Assert.Empty(expiry.Poll().Checkpoints);
    }

    [Fact]
    public async Task RenewClearsACheckpointedRemainderThroughRaftFirst()
    {
        LeaseExpiry expiry = NewExpiry(checkpointInterval: TimeSpan.FromSeconds(10));
        Grant(1, 60);
        _h.InBatch(b => _h.Lessor.Checkpoint(b, new LeaseCheckpointRequest { Checkpoints = { new LeaseCheckpoint { ID = 1, RemainingTTL = 20 } } }));
        BecomeLeader(2);
        var proposed = new List<LeaseCheckpointRequest>();

        (RenewStatus status, long ttl) = await expiry.RenewAsync(1, (request, _) =>
        {
            proposed.Add(request);
            _h.InBatch(b => _h.Lessor.Checkpoint(b, request)); // As if raft applied it.
            return Task.CompletedTask;
        }, CancellationToken.None);

        Assert.Equal((RenewStatus.Renewed, 60L), (status, ttl));
        Assert.Equal(0, Assert.Single(proposed).Checkpoints.Single().RemainingTTL);
        Assert.Equal(60, expiry.TimeToLive(1, keys: false)!.TTL);
    }

    [Fact]
    public void ManyLeasesExpiringTogetherAreSpreadOutAtPromotion()
    {
        _h.InBatch(b =>
        {
            for (int i = 1; i <= 2000; i++)
            {
                LessorHarness.Must(_h.Lessor.Grant(b, new LeaseGrantRequest { ID = i, TTL = 10 }));
            }

            return 0;
        });

        LeaseExpiry expiry = NewExpiry();
        BecomeLeader(2);

        // etcd lets at most 750 leases expire in the first second; the rest move later.
        _clock.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(500, expiry.Poll().Expired.Count); // One look revokes at most 500.
        int firstSecond = 500 + expiry.Poll().Expired.Count;
        Assert.Equal(750, firstSecond);
        _clock.Advance(TimeSpan.FromSeconds(3));
        int total = firstSecond;
        for (LeaseWork w = expiry.Poll(); w.Expired.Count > 0; w = expiry.Poll())
        {
            total += w.Expired.Count;
        }

        Assert.Equal(2000, total);
    }

    [Fact]
    public async Task TheLoopRevokesAnExpiredLeaseThroughItsProposal()
    {
        LeaseExpiry expiry = NewExpiry();
        BecomeLeader(2);
        Grant(1, 2);
        var revoked = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        Task loop = expiry.RunAsync((request, _) =>
        {
            revoked.TrySetResult(request.LeaseRevoke.ID);
            return Task.CompletedTask;
        }, StorageLog.None, stop.Token);

        for (int i = 0; i < 100 && !revoked.Task.IsCompleted; i++)
        {
            await Task.Delay(5);
            _clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        Assert.Equal(1, await revoked.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(_clock.GetElapsedTime(0) >= TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
