using Dotcd.Raft.Confchange;
using Dotcd.Raft.Tracker;

namespace Dotcd.Raft.Tests.Confchange;

public sealed class ChangerTests
{
    private static ProgressTracker TrackerWith(string changes, ulong lastIndex = 1)
    {
        var tracker = new ProgressTracker(maxInflight: 10);
        foreach (var cc in ConfChangeScript.ParseChanges(changes))
        {
            (tracker.Config, tracker.Progress) = new Changer(tracker, lastIndex).Simple([cc]);
        }
        return tracker;
    }

    private static string Describe(ProgressTracker tracker) => tracker.Config + "\n" + tracker.Progress;

    private static string Describe((TrackerConfig Config, ProgressMap Progress) result) => result.Config + "\n" + result.Progress;

    [Fact]
    public void ChangesNeverModifyTheTrackerTheyWereGiven()
    {
        var tracker = TrackerWith("v1 v2 v3 l4");
        tracker.Progress[1].Match = 7;
        tracker.Progress[1].BecomeReplicate();
        tracker.Progress[1].Inflights.Add(8);
        string before = Describe(tracker);

        var joint = new Changer(tracker, 20).EnterJoint(autoLeave: true, ConfChangeScript.ParseChanges("r1 l2 v4 v5"));
        Assert.Equal(before, Describe(tracker));
        Assert.Equal("voters=(3 4 5)&&(1 2 3) learners_next=(2) autoleave", joint.Config.ToString());

        joint.Progress[3].Match = 99;
        Assert.Equal(0UL, tracker.Progress[3].Match);

        var installed = new ProgressTracker(10) { Config = joint.Config, Progress = joint.Progress };
        var left = new Changer(installed, 21).LeaveJoint();
        Assert.Equal("voters=(3 4 5) learners=(2)", left.Config.ToString());
        Assert.Equal("voters=(3 4 5)&&(1 2 3) learners_next=(2) autoleave", installed.Config.ToString());

        Assert.Throws<ConfChangeException>(() => new Changer(tracker, 20).Simple(ConfChangeScript.ParseChanges("v8 v9")));
        Assert.Equal(before, Describe(tracker));
    }

    [Fact]
    public void AMemberKeepsItsProgressThroughPromotionAndDemotion()
    {
        var tracker = TrackerWith("v1 v2 l3");
        tracker.Progress[3].Match = 5;
        tracker.Progress[3].Next = 6;

        var promoted = new Changer(tracker, 30).Simple(ConfChangeScript.ParseChanges("v3"));
        Assert.Equal(5UL, promoted.Progress[3].Match);
        Assert.Equal(6UL, promoted.Progress[3].Next);
        Assert.False(promoted.Progress[3].IsLearner);
    }

    [Fact]
    public void NewMembersStartActiveAtTheLastIndex()
    {
        var tracker = TrackerWith("v1");
        var (_, progress) = new Changer(tracker, 42).Simple(ConfChangeScript.ParseChanges("l2"));
        Assert.Equal(42UL, progress[2].Next);
        Assert.Equal(0UL, progress[2].Match);
        Assert.True(progress[2].RecentActive);
        Assert.True(progress[2].IsLearner);
        Assert.Equal(ProgressState.Probe, progress[2].State);
        Assert.Equal(10, progress[2].Inflights.Size);
    }

    [Fact]
    public void AnUnknownChangeTypeIsRejected()
    {
        var tracker = TrackerWith("v1");
        var e = Assert.Throws<ConfChangeException>(() =>
            new Changer(tracker, 2).Simple([new ConfChangeSingle((ConfChangeType)7, 2)]));
        Assert.Equal("unexpected conf type 7", e.Message);
    }

    [Fact]
    public void AnInconsistentTrackerIsRejectedBeforeAnyChange()
    {
        var tracker = TrackerWith("v1 v2");
        tracker.Progress.Remove(2);
        var e = Assert.Throws<ConfChangeException>(() => new Changer(tracker, 2).Simple(ConfChangeScript.ParseChanges("v3")));
        Assert.Equal("no progress for 2", e.Message);

        tracker = TrackerWith("v1 l2");
        tracker.Progress[2].IsLearner = false;
        e = Assert.Throws<ConfChangeException>(() => new Changer(tracker, 2).LeaveJoint());
        Assert.Equal("2 is in Learners, but is not marked as learner", e.Message);
    }

    // etcd's quick test: a change applied one node at a time with Simple ends where entering and
    // leaving a joint config with all of it at once ends (and autoLeave changes nothing else).
    [Fact]
    public void OneNodeAtATimeEqualsJointEnterAndLeave()
    {
        var random = new Random(7);
        for (int round = 0; round < 500; round++)
        {
            var setup = new List<ConfChangeSingle> { new(ConfChangeType.AddNode, 1) };
            int setupCount = 1 + random.Next(5);
            for (int i = 0; i < setupCount; i++)
            {
                setup.Add(new ConfChangeSingle(ConfChangeType.AddNode, (ulong)(1 + random.Next(5))));
            }
            var changes = new List<ConfChangeSingle>();
            int count = 1 + random.Next(9);
            for (int i = 0; i < count; i++)
            {
                // Ids from 2 up: node 1 stays a voter, so no step removes all voters.
                changes.Add(new ConfChangeSingle((ConfChangeType)random.Next(4), (ulong)(2 + random.Next(9))));
            }

            var simple = new ProgressTracker(10);
            foreach (var cc in setup.Concat(changes))
            {
                (simple.Config, simple.Progress) = new Changer(simple, 10).Simple([cc]);
            }

            var joint = new ProgressTracker(10);
            foreach (var cc in setup)
            {
                (joint.Config, joint.Progress) = new Changer(joint, 10).Simple([cc]);
            }
            var entered = new Changer(joint, 10).EnterJoint(autoLeave: false, changes);
            var enteredAuto = new Changer(joint, 10).EnterJoint(autoLeave: true, changes);
            Assert.False(entered.Config.AutoLeave);
            Assert.True(enteredAuto.Config.AutoLeave);
            enteredAuto.Config.AutoLeave = false;
            Assert.Equal(Describe(entered), Describe(enteredAuto));

            (joint.Config, joint.Progress) = entered;
            (joint.Config, joint.Progress) = new Changer(joint, 10).LeaveJoint();

            Assert.Equal(Describe(simple), Describe(joint));
        }
    }

    [Fact]
    public void RestoreRebuildsEtcdsExampleStates()
    {
        ConfState[] states =
        [
            new(),
            new() { Voters = [1, 2, 3] },
            new() { Voters = [1, 2, 3], Learners = [4, 5, 6] },
            new() { Voters = [1, 2, 3], Learners = [5], VotersOutgoing = [1, 2, 4, 6], LearnersNext = [4] },
        ];
        foreach (var cs in states)
        {
            AssertRestoreRoundTrips(cs);
        }
    }

    [Fact]
    public void RestoreOfAJointStateGivesTheJointConfig()
    {
        var cs = new ConfState { Voters = [1, 2, 3], Learners = [5], VotersOutgoing = [1, 2, 4, 6], LearnersNext = [4], AutoLeave = true };
        var (config, progress) = Changer.Restore(new Changer(new ProgressTracker(20), 10), cs);

        Assert.Equal("voters=(1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4) autoleave", config.ToString());
        Assert.Equal([1UL, 2, 3, 4, 5, 6], progress.SortedIds());
        Assert.True(progress[5].IsLearner);
        Assert.False(progress[4].IsLearner); // Still an outgoing voter until the joint config is left.
        Assert.All(progress.Values, pr => Assert.Equal(10UL, pr.Next));
    }

    [Fact]
    public void RestoreRefusesAStateWithoutVoters()
    {
        var e = Assert.Throws<ConfChangeException>(() =>
            Changer.Restore(new Changer(new ProgressTracker(20), 10), new ConfState { Learners = [1] }));
        Assert.Equal("removed all voters", e.Message);
    }

    // etcd's TestRestore generator: 1-5 voters, 0-4 learners, some voters retained or removed in
    // an outgoing half, some removed voters demoted to LearnersNext.
    [Fact]
    public void RestoreRoundTripsRandomConfStates()
    {
        var random = new Random(1234);
        for (int round = 0; round < 1000; round++)
        {
            int voters = 1 + random.Next(5);
            int learners = random.Next(5);
            int removedVoters = random.Next(3);
            var ids = Enumerable.Range(1, 2 * (voters + learners + removedVoters))
                .Select(i => (ulong)i).OrderBy(_ => random.Next()).ToList();

            var cs = new ConfState { Voters = ids.Take(voters).ToArray() };
            ids = ids.Skip(voters).ToList();
            cs = cs with { Learners = ids.Take(learners).ToArray() };
            ids = ids.Skip(learners).ToList();

            int retained = random.Next(voters + 1);
            if (retained > 0 || removedVoters > 0)
            {
                cs = cs with { VotersOutgoing = cs.Voters.Take(retained).Concat(ids.Take(removedVoters)).ToArray() };
            }
            if (removedVoters > 0)
            {
                int learnersNext = random.Next(removedVoters + 1);
                cs = cs with { LearnersNext = ids.Take(learnersNext).ToArray() };
            }
            cs = cs with { AutoLeave = cs.VotersOutgoing.Count > 0 && random.Next(2) == 1 };

            AssertRestoreRoundTrips(cs);
        }
    }

    private static void AssertRestoreRoundTrips(ConfState cs)
    {
        var original = new ProgressTracker(20);
        var (config, progress) = Changer.Restore(new Changer(original, 10), cs);
        Assert.Equal("voters=()", original.Config.ToString());
        Assert.Empty(original.Progress);

        var restored = new ProgressTracker(20) { Config = config, Progress = progress };
        ConfState back = restored.ConfState();

        Assert.True(cs.Equivalent(back), $"before: {cs}\nafter:  {back}");
        // ConfState() lists every group ascending.
        Assert.Equal(cs.Voters.Order(), back.Voters);
        Assert.Equal(cs.VotersOutgoing.Order(), back.VotersOutgoing);
        Assert.Equal(cs.Learners.Order(), back.Learners);
        Assert.Equal(cs.LearnersNext.Order(), back.LearnersNext);
        Assert.Equal(cs.AutoLeave, back.AutoLeave);
        Assert.Equal(restored.VoterNodes().Concat(restored.LearnerNodes()).Order(), progress.SortedIds());
    }
}
