using Dotcd.Raft.Tracker;

namespace Dotcd.Raft.Tests.Tracker;

public sealed class ProgressTests
{
    private static Progress NewProgress(ProgressState state, ulong match, ulong next, int maxInflight = 256) =>
        new() { State = state, Match = match, Next = next, Inflights = new Inflights(maxInflight) };

    [Fact]
    public void ToStringShowsEveryFlagInEtcdsFormat()
    {
        var inflights = new Inflights(1);
        inflights.Add(123);
        var pr = new Progress
        {
            Match = 1,
            Next = 2,
            State = ProgressState.Snapshot,
            PendingSnapshot = 123,
            RecentActive = false,
            ProbeSent = true,
            IsLearner = true,
            Inflights = inflights,
        };
        Assert.Equal("StateSnapshot match=1 next=2 learner paused pendingSnap=123 inactive inflight=1[full]", pr.ToString());

        var active = NewProgress(ProgressState.Replicate, 5, 6);
        active.RecentActive = true;
        Assert.Equal("StateReplicate match=5 next=6", active.ToString());
    }

    [Theory]
    [InlineData(ProgressState.Probe, false, false)]
    [InlineData(ProgressState.Probe, true, true)]
    [InlineData(ProgressState.Replicate, false, false)]
    [InlineData(ProgressState.Replicate, true, false)]
    [InlineData(ProgressState.Snapshot, false, true)]
    [InlineData(ProgressState.Snapshot, true, true)]
    public void IsPausedDependsOnTheState(ProgressState state, bool probeSent, bool paused)
    {
        var pr = NewProgress(state, 0, 1);
        pr.ProbeSent = probeSent;
        Assert.Equal(paused, pr.IsPaused());
    }

    [Fact]
    public void ReplicateIsPausedOnlyWhenTheInflightWindowIsFull()
    {
        var pr = NewProgress(ProgressState.Replicate, 0, 1, maxInflight: 2);
        pr.Inflights.Add(1);
        Assert.False(pr.IsPaused());
        pr.Inflights.Add(2);
        Assert.True(pr.IsPaused());
        pr.Inflights.FreeLE(1);
        Assert.False(pr.IsPaused());
    }

    [Fact]
    public void AnAnswerToAProbeResumesSending()
    {
        var pr = NewProgress(ProgressState.Probe, 0, 2);
        pr.ProbeSent = true;
        pr.MaybeDecrTo(1, 1);
        Assert.False(pr.ProbeSent);

        pr.ProbeSent = true;
        pr.MaybeUpdate(2);
        Assert.False(pr.ProbeSent);
    }

    [Theory]
    [InlineData(ProgressState.Replicate, 0UL, 2UL)]   // Back to Match+1.
    [InlineData(ProgressState.Snapshot, 10UL, 11UL)]  // Past the snapshot the follower most likely applied.
    [InlineData(ProgressState.Snapshot, 0UL, 2UL)]    // No snapshot pending: Match+1.
    public void BecomeProbeRestartsAfterMatchOrAfterThePendingSnapshot(ProgressState from, ulong pendingSnapshot, ulong wantNext)
    {
        var pr = NewProgress(from, 1, 5);
        pr.PendingSnapshot = pendingSnapshot;
        pr.Inflights.Add(3);
        pr.ProbeSent = true;

        pr.BecomeProbe();

        Assert.Equal(ProgressState.Probe, pr.State);
        Assert.Equal(1UL, pr.Match);
        Assert.Equal(wantNext, pr.Next);
        Assert.Equal(0UL, pr.PendingSnapshot);
        Assert.False(pr.ProbeSent);
        Assert.Equal(0, pr.Inflights.Count);
    }

    [Fact]
    public void BecomeReplicateSendsFromMatchPlusOne()
    {
        var pr = NewProgress(ProgressState.Probe, 1, 5);
        pr.BecomeReplicate();
        Assert.Equal(ProgressState.Replicate, pr.State);
        Assert.Equal(1UL, pr.Match);
        Assert.Equal(2UL, pr.Next);
    }

    [Fact]
    public void BecomeSnapshotRemembersTheSnapshotIndexAndPauses()
    {
        var pr = NewProgress(ProgressState.Probe, 1, 5);
        pr.BecomeSnapshot(10);
        Assert.Equal(ProgressState.Snapshot, pr.State);
        Assert.Equal(1UL, pr.Match);
        Assert.Equal(10UL, pr.PendingSnapshot);
        Assert.True(pr.IsPaused());
    }

    [Theory]
    [InlineData(2UL, 3UL, 5UL, false)] // A stale ack moves neither Match nor Next.
    [InlineData(3UL, 3UL, 5UL, false)] // Nor does a repeated one.
    [InlineData(4UL, 4UL, 5UL, true)]  // Match moves; Next is already past it.
    [InlineData(5UL, 5UL, 6UL, true)]  // Both move.
    public void MaybeUpdateNeverMovesBackwards(ulong update, ulong wantMatch, ulong wantNext, bool wantUpdated)
    {
        var pr = NewProgress(ProgressState.Probe, 3, 5);
        Assert.Equal(wantUpdated, pr.MaybeUpdate(update));
        Assert.Equal(wantMatch, pr.Match);
        Assert.Equal(wantNext, pr.Next);
    }

    [Fact]
    public void OptimisticUpdateMovesNextPastTheSentEntries()
    {
        var pr = NewProgress(ProgressState.Replicate, 3, 5);
        pr.OptimisticUpdate(9);
        Assert.Equal(10UL, pr.Next);
        Assert.Equal(3UL, pr.Match);
    }

    [Theory]
    // Replicate: a rejection at or below Match is stale; otherwise restart at Match+1.
    [InlineData(ProgressState.Replicate, 5UL, 10UL, 5UL, 5UL, false, 10UL)]
    [InlineData(ProgressState.Replicate, 5UL, 10UL, 4UL, 4UL, false, 10UL)]
    [InlineData(ProgressState.Replicate, 5UL, 10UL, 9UL, 9UL, true, 6UL)]
    // Probe: only the answer to the outstanding probe (Next-1) counts.
    [InlineData(ProgressState.Probe, 0UL, 0UL, 0UL, 0UL, false, 0UL)]
    [InlineData(ProgressState.Probe, 0UL, 10UL, 5UL, 5UL, false, 10UL)]
    [InlineData(ProgressState.Probe, 0UL, 10UL, 9UL, 9UL, true, 9UL)]
    [InlineData(ProgressState.Probe, 0UL, 2UL, 1UL, 1UL, true, 1UL)]
    [InlineData(ProgressState.Probe, 0UL, 1UL, 0UL, 0UL, true, 1UL)]  // Next never drops below 1.
    [InlineData(ProgressState.Probe, 0UL, 10UL, 9UL, 2UL, true, 3UL)] // Jump to just past the follower's last index.
    [InlineData(ProgressState.Probe, 0UL, 10UL, 9UL, 0UL, true, 1UL)]
    public void MaybeDecrToFollowsEtcd(ProgressState state, ulong match, ulong next, ulong rejected, ulong last, bool wantDecreased, ulong wantNext)
    {
        var pr = NewProgress(state, match, next);
        Assert.Equal(wantDecreased, pr.MaybeDecrTo(rejected, last));
        Assert.Equal(match, pr.Match);
        Assert.Equal(wantNext, pr.Next);
    }

    [Fact]
    public void CloneCopiesTheInflightWindow()
    {
        var pr = NewProgress(ProgressState.Replicate, 3, 5, maxInflight: 4);
        pr.Inflights.Add(4);
        var copy = pr.Clone();
        copy.Inflights.Add(5);
        copy.Match = 4;
        Assert.Equal(1, pr.Inflights.Count);
        Assert.Equal(3UL, pr.Match);
        Assert.Equal(2, copy.Inflights.Count);
    }
}
