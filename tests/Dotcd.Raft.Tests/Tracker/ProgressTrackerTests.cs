using Dotcd.Raft.Quorum;
using Dotcd.Raft.Tracker;

namespace Dotcd.Raft.Tests.Tracker;

public sealed class ProgressTrackerTests
{
    // A tracker with the given voters (incoming, outgoing) and learners, every Match as given (default 0).
    private static ProgressTracker NewTracker(ulong[] incoming, ulong[]? outgoing = null, ulong[]? learners = null)
    {
        var tracker = new ProgressTracker(maxInflight: 8);
        tracker.Config.Voters = new JointConfig(new MajorityConfig(incoming), new MajorityConfig(outgoing ?? []));
        foreach (ulong id in learners ?? [])
        {
            tracker.Config.Learners.Add(id);
        }
        foreach (ulong id in tracker.Config.Voters.Ids())
        {
            tracker.Progress[id] = new Progress(next: 1, maxInflight: 8);
        }
        foreach (ulong id in learners ?? [])
        {
            tracker.Progress[id] = new Progress(next: 1, maxInflight: 8, isLearner: true);
        }
        return tracker;
    }

    [Fact]
    public void ConfStateListsEveryGroupAscending()
    {
        var tracker = NewTracker([3, 1, 2], outgoing: [2, 1, 4], learners: [9, 7]);
        tracker.Config.LearnersNext.Add(4);
        tracker.Config.AutoLeave = true;

        ConfState cs = tracker.ConfState();

        Assert.Equal([1UL, 2, 3], cs.Voters);
        Assert.Equal([1UL, 2, 4], cs.VotersOutgoing);
        Assert.Equal([7UL, 9], cs.Learners);
        Assert.Equal([4UL], cs.LearnersNext);
        Assert.True(cs.AutoLeave);
        Assert.Equal([1UL, 2, 3, 4], tracker.VoterNodes());
        Assert.Equal([7UL, 9], tracker.LearnerNodes());
    }

    [Fact]
    public void ASingletonIsOneVoterOutsideAJointConfig()
    {
        Assert.True(NewTracker([1]).IsSingleton());
        Assert.True(NewTracker([1], learners: [2]).IsSingleton());
        Assert.False(NewTracker([1, 2]).IsSingleton());
        Assert.False(NewTracker([1], outgoing: [2]).IsSingleton());
        Assert.False(NewTracker([]).IsSingleton());
    }

    [Fact]
    public void CommittedIsTheQuorumMatchAndIgnoresLearners()
    {
        var tracker = NewTracker([1, 2, 3], learners: [4]);
        tracker.Progress[1].Match = 10;
        tracker.Progress[2].Match = 7;
        tracker.Progress[3].Match = 3;
        tracker.Progress[4].Match = 100;
        Assert.Equal(7UL, tracker.Committed());
    }

    [Fact]
    public void CommittedInAJointConfigIsTheLowerOfBothHalves()
    {
        var tracker = NewTracker([1, 2, 3], outgoing: [3, 4, 5]);
        tracker.Progress[1].Match = 10;
        tracker.Progress[2].Match = 10;
        tracker.Progress[3].Match = 4;
        tracker.Progress[4].Match = 6;
        tracker.Progress[5].Match = 2;
        Assert.Equal(4UL, tracker.Committed()); // Outgoing (3 4 5) holds only 4 on a majority.
    }

    [Fact]
    public void VisitWalksMembersInAscendingIdOrder()
    {
        var tracker = NewTracker([50, 3, 17, 8, 1, 99, 42, 23, 64], learners: [5, 70]);
        var seen = new List<ulong>();
        tracker.Visit((id, pr) =>
        {
            Assert.Same(tracker.Progress[id], pr);
            seen.Add(id);
        });
        Assert.Equal([1UL, 3, 5, 8, 17, 23, 42, 50, 64, 70, 99], seen);
    }

    [Fact]
    public void QuorumActiveNeedsActiveMajoritiesInBothHalvesAndIgnoresLearners()
    {
        var tracker = NewTracker([1, 2, 3], outgoing: [3, 4, 5], learners: [6]);
        tracker.Progress[1].RecentActive = true;
        tracker.Progress[2].RecentActive = true;
        tracker.Progress[6].RecentActive = true;
        Assert.False(tracker.QuorumActive()); // Outgoing half has nobody active.

        tracker.Progress[4].RecentActive = true;
        Assert.False(tracker.QuorumActive());

        tracker.Progress[5].RecentActive = true;
        Assert.True(tracker.QuorumActive());
    }

    [Fact]
    public void TallyVotesCountsVotersOnlyAndKeepsTheFirstVote()
    {
        var tracker = NewTracker([1, 2, 3, 4, 5], learners: [6]);
        tracker.RecordVote(1, true);
        tracker.RecordVote(2, false);
        tracker.RecordVote(2, true); // A second vote from the same member does not count.
        tracker.RecordVote(6, true); // Learners do not vote.

        Assert.Equal((1, 1, VoteResult.Pending), tracker.TallyVotes());

        tracker.RecordVote(3, true);
        tracker.RecordVote(4, true);
        Assert.Equal((3, 1, VoteResult.Won), tracker.TallyVotes());

        tracker.ResetVotes();
        tracker.RecordVote(1, false);
        tracker.RecordVote(2, false);
        tracker.RecordVote(3, false);
        Assert.Equal((0, 3, VoteResult.Lost), tracker.TallyVotes());
    }

    [Fact]
    public void AJointElectionNeedsBothHalves()
    {
        var tracker = NewTracker([1, 2, 3], outgoing: [1, 4, 5]);
        tracker.RecordVote(1, true);
        tracker.RecordVote(2, true);
        Assert.Equal(VoteResult.Pending, tracker.TallyVotes().Result);
        tracker.RecordVote(4, false);
        tracker.RecordVote(5, false);
        Assert.Equal(VoteResult.Lost, tracker.TallyVotes().Result);
    }

    [Fact]
    public void ProgressMapPrintsOneLinePerMemberAscending()
    {
        var tracker = NewTracker([2, 1]);
        tracker.Progress[2].BecomeReplicate();
        tracker.Progress[2].RecentActive = true;
        Assert.Equal("1: StateProbe match=0 next=1 inactive\n2: StateReplicate match=0 next=1\n", tracker.Progress.ToString());
    }

    [Fact]
    public void ProgressMapAcksEachMembersMatch()
    {
        var tracker = NewTracker([1]);
        tracker.Progress[1].Match = 5;
        Assert.True(tracker.Progress.TryGetAckedIndex(1, out ulong index));
        Assert.Equal(5UL, index);
        Assert.False(tracker.Progress.TryGetAckedIndex(2, out _));
    }

    [Fact]
    public void ConfigPrintsInEtcdsFormat()
    {
        var config = new TrackerConfig();
        Assert.Equal("voters=()", config.ToString());

        config.Voters = new JointConfig(new MajorityConfig([1, 2]), new MajorityConfig([1]));
        config.Learners.Add(3);
        config.LearnersNext.Add(4);
        config.AutoLeave = true;
        Assert.Equal("voters=(1 2)&&(1) learners=(3) learners_next=(4) autoleave", config.ToString());

        var copy = config.Clone();
        copy.Voters.Incoming.Add(5);
        copy.Learners.Clear();
        Assert.Equal("voters=(1 2)&&(1) learners=(3) learners_next=(4) autoleave", config.ToString());
        Assert.Equal("voters=(1 2 5)&&(1) learners_next=(4) autoleave", copy.ToString());
    }
}
