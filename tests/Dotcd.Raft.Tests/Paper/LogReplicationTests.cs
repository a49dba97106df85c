using Dotcd.Raft.Tests.Harness;
using static Dotcd.Raft.Tests.Harness.Msg;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Raft paper §5.3: log replication.</summary>
public sealed class LogReplicationTests
{
    [Fact]
    public void NewLeaderAppendsAnEmptyEntryOfItsTerm()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        Assert.All(net.Nodes, n =>
        {
            Entry e = Assert.Single(n.PersistedLog());
            Assert.Equal((1UL, 1UL), (e.Term, e.Index));
            Assert.True(e.Data.IsEmpty);
            Assert.Equal(1UL, n.Committed);
        });
    }

    [Fact]
    public void LeaderAppendsProposalAndSendsItToEveryFollower()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        Assert.Equal(RaftError.None, net.Propose(1, "x"));
        IReadOnlyList<Message> sent = net.Process(1);

        Assert.Equal(new[] { "x" }, net[1].PersistedData()); // Persisted before the messages go out.
        Message[] apps = sent.Where(m => m.Type == MessageType.MsgApp).OrderBy(m => m.To).ToArray();
        Assert.Equal(new ulong[] { 2, 3 }, apps.Select(m => m.To).ToArray());
        Assert.All(apps, m =>
        {
            Assert.Equal(1UL, m.Term);
            Assert.Equal((1UL, 1UL), (m.LogTerm, m.Index)); // The entry preceding the new one.
            Entry e = Assert.Single(m.Entries);
            Assert.Equal((1UL, 2UL, "x"), (e.Term, e.Index, Text(e.Data)));
        });
        Assert.Equal(1UL, net[1].Committed); // Not committed before followers acknowledge.
    }

    [Fact]
    public void EntryIsCommittedOnceAMajorityStoresIt()
    {
        var net = RaftNetwork.Create(5);
        net.Elect(1);
        net.Isolate(4);
        net.Isolate(5);
        net.ProposeAndStabilize(1, "x");
        Assert.Equal(2UL, net[1].Committed);
        foreach (ulong id in new ulong[] { 1, 2, 3 }) Assert.Equal(new[] { "x" }, net[id].State);
        foreach (ulong id in new ulong[] { 4, 5 })
        {
            Assert.Empty(net[id].State);
            Assert.Empty(net[id].PersistedData());
        }
    }

    [Fact]
    public void EntryIsNotCommittedWithoutMajorityAndIsCommittedOnceItHasOne()
    {
        var net = RaftNetwork.Create(5);
        net.Elect(1);
        net.Isolate(3);
        net.Isolate(4);
        net.Isolate(5);
        net.ProposeAndStabilize(1, "x");
        net.ProposeAndStabilize(1, "y");
        Assert.Equal(new[] { "x", "y" }, net[2].PersistedData()); // Stored on two of five...
        Assert.Equal(1UL, net[1].Committed);                      // ...which is no majority.
        Assert.All(net.Nodes, n => Assert.Empty(n.State));

        net.Heal();
        net.TickAndStabilize(1, 1); // A heartbeat round finds the missing followers.
        net.Stabilize();
        Assert.Equal(3UL, net[1].Committed);
        Assert.All(net.Nodes, n => Assert.Equal(new[] { "x", "y" }, n.State));
    }

    [Fact]
    public void FollowersLearnCommitIndexFromHeartbeats()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Propose(1, "x");
        net.Process(1);          // MsgApp out.
        net.DeliverInFlight();
        net.ProcessAll();        // Followers persist and acknowledge.
        MessageFilter noApp = net.Drop("no MsgApp from 1", m => m.Type == MessageType.MsgApp && m.From == 1);
        net.Stabilize();         // The leader commits; its commit-carrying MsgApp is lost.
        Assert.Equal(2UL, net[1].Committed);
        Assert.Equal(new[] { "x" }, net[1].State);
        Assert.Equal(1UL, net[2].Committed);
        Assert.Empty(net[2].State);

        noApp.Remove();
        net.TickAndStabilize(1, 1); // HeartbeatTick = 1.
        Assert.All(net.Nodes, n => Assert.Equal(2UL, n.Committed));
        Assert.All(net.Nodes, n => Assert.Equal(new[] { "x" }, n.State));
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgHeartbeat && m.Commit == 2);
    }

    [Fact]
    public void HeartbeatNeverCommitsBeyondWhatTheFollowerHolds()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        MessageFilter noApp = net.Drop("no MsgApp to 3", m => m.Type == MessageType.MsgApp && m.To == 3);
        for (int i = 0; i < 3; i++) net.ProposeAndStabilize(1, $"m{i}");
        Assert.Equal(4UL, net[1].Committed);
        net.TickAndStabilize(2, 1); // Heartbeats reach 3; its replies trigger appends, which are lost.
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgHeartbeat && m.To == 3 && m.Commit == 1);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgHeartbeat && m.To == 3 && m.Commit > 1);
        Assert.Equal(1UL, net[3].Committed);
        noApp.Remove();
        net.TickAndStabilize(1, 1);
        Assert.Equal(4UL, net[3].Committed);
    }

    [Fact]
    public void CommittedEntriesAreAppliedInLogOrderOnEveryNode()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        var expected = new List<string>();
        for (int batch = 0; batch < 5; batch++)
        {
            for (int i = 0; i < 4; i++)
            {
                string data = $"v{batch}-{i}";
                Assert.Equal(RaftError.None, net.Propose(1, data));
                expected.Add(data);
            }
            net.Stabilize();
        }
        Assert.All(net.Nodes, n =>
        {
            Assert.Equal(expected, n.State);
            Assert.Equal(21UL, n.AppliedIndex);
            Assert.Equal(Enumerable.Range(1, 21).Select(i => (ulong)i), n.AppliedEntries.Select(e => e.Index));
        });
    }

    [Fact]
    public void FollowerRejectsAppendWhosePrecedingEntryDoesNotMatch()
    {
        var net = RaftNetwork.Create(3);
        TestNode f = net[1];
        f.Raw.Step(App(from: 2, to: 1, term: 1, prevLogTerm: 0, prevIndex: 0, commit: 0, Ent(1, 1), Ent(1, 2, "a")));
        Message ok = Assert.Single(net.Process(1));
        Assert.Equal((MessageType.MsgAppResp, false, 2UL), (ok.Type, ok.Reject, ok.Index));

        // Missing entry at index 3.
        f.Raw.Step(App(from: 2, to: 1, term: 1, prevLogTerm: 1, prevIndex: 3, commit: 0, Ent(1, 4, "c")));
        Message missing = Assert.Single(net.Process(1));
        Assert.True(missing.Reject);
        Assert.Equal(3UL, missing.Index);
        Assert.Equal(2UL, missing.RejectHint); // Its last index, so the leader can back up at once.

        // Entry at index 2 has a different term.
        f.Raw.Step(App(from: 2, to: 1, term: 2, prevLogTerm: 2, prevIndex: 2, commit: 0, Ent(2, 3, "c")));
        Message conflict = Assert.Single(net.Process(1));
        Assert.True(conflict.Reject);
        Assert.Equal(new[] { "a" }, f.PersistedData());

        f.Raw.Step(App(from: 2, to: 1, term: 2, prevLogTerm: 1, prevIndex: 2, commit: 0, Ent(2, 3, "c")));
        Message accepted = Assert.Single(net.Process(1));
        Assert.False(accepted.Reject);
        Assert.Equal(3UL, accepted.Index);
        Assert.Equal(new[] { "a", "c" }, f.PersistedData());
    }

    [Fact]
    public void FollowerReplacesConflictingEntriesAndKeepsMatchingOnes()
    {
        var net = RaftNetwork.Create(3);
        TestNode f = net[1];
        f.Raw.Step(App(from: 2, to: 1, term: 1, prevLogTerm: 0, prevIndex: 0, commit: 0, Ent(1, 1, "a"), Ent(1, 2, "b"), Ent(1, 3, "c")));
        net.Process(1);
        // A leader of term 2 matches at index 1 and has another entry at index 2: 2 and 3 are replaced.
        f.Raw.Step(App(from: 3, to: 1, term: 2, prevLogTerm: 1, prevIndex: 1, commit: 0, Ent(2, 2, "B")));
        net.Process(1);
        Assert.Equal(new[] { (1UL, "a"), (2UL, "B") }, f.PersistedLog().Select(e => (e.Term, Text(e.Data))).ToArray());

        // A stale duplicate of an entry it already has does not truncate what follows.
        f.Raw.Step(App(from: 3, to: 1, term: 2, prevLogTerm: 2, prevIndex: 2, commit: 0, Ent(2, 3, "C")));
        f.Raw.Step(App(from: 3, to: 1, term: 2, prevLogTerm: 1, prevIndex: 1, commit: 0, Ent(2, 2, "B")));
        net.Process(1);
        Assert.Equal(new[] { "a", "B", "C" }, f.PersistedData());
    }

    [Fact]
    public void FollowerCommitsOnlyWhatItHoldsFromTheLeader()
    {
        var net = RaftNetwork.Create(3);
        TestNode f = net[1];
        f.Raw.Step(App(from: 2, to: 1, term: 1, prevLogTerm: 0, prevIndex: 0, commit: 5, Ent(1, 1, "a"), Ent(1, 2, "b")));
        net.Process(1);
        // The leader's commit is 5, but only entries up to the last one this MsgApp matched are known committed.
        Assert.Equal(2UL, f.Committed);
        Assert.Equal(new[] { "a", "b" }, f.State);
    }

    [Fact]
    public void FollowerWithMissingEntriesIsCaughtUp()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        for (int i = 0; i < 5; i++) net.ProposeAndStabilize(1, $"m{i}");
        Assert.Equal(1UL, net[3].PersistedLastIndex);
        net.Heal();
        net.ProposeAndStabilize(1, "last");
        Assert.Equal(net[1].LogSummary(), net[3].LogSummary());
        Assert.Equal(new[] { "m0", "m1", "m2", "m3", "m4", "last" }, net[3].State);
    }

    /// <summary>
    /// Old leader 1 appends three entries in term 1 that never reach anyone; 2 leads term 2 and
    /// commits two entries; after healing, 1's conflicting tail must give way.
    /// </summary>
    private static RaftNetwork DivergedCluster(out string[] leaderLogBeforeHeal)
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(1);
        for (int i = 0; i < 3; i++) net.ProposeAndStabilize(1, $"lost{i}");
        net.Elect(2);
        net.ProposeAndStabilize(2, "kept0");
        net.ProposeAndStabilize(2, "kept1");
        leaderLogBeforeHeal = net[2].LogSummary();
        Assert.Equal(4UL, net[1].PersistedLastIndex);
        Assert.Equal(1UL, net[1].PersistedTerm(4));
        net.Heal();
        net.TickAndStabilize(1, 2); // Leader 2's heartbeat deposes 1, then repairs its log.
        net.Stabilize();
        return net;
    }

    [Fact]
    public void ConflictingTailOfFormerLeaderIsReplacedByLeadersLog()
    {
        RaftNetwork net = DivergedCluster(out _);
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(2UL, net[1].Lead);
        Assert.Equal(net[2].LogSummary(), net[1].LogSummary());
        Assert.DoesNotContain(net[1].PersistedData(), d => d.StartsWith("lost", StringComparison.Ordinal));
        Assert.All(net.Nodes, n => Assert.Equal(new[] { "kept0", "kept1" }, n.State));
        net.AssertLogMatching();
    }

    [Fact]
    public void LeaderNeverOverwritesOrDeletesItsOwnEntries()
    {
        RaftNetwork net = DivergedCluster(out string[] before);
        string[] after = net[2].LogSummary();
        Assert.Equal(StateType.Leader, net[2].Role);
        Assert.True(after.Length >= before.Length);
        Assert.Equal(before, after.Take(before.Length));
    }

    [Fact]
    public void LeaderBacksUpToTheLastMatchingEntryOfAFollower()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Isolate(3);
        for (int i = 0; i < 10; i++) net.Propose(1, $"m{i}");
        net.Stabilize();
        net.Heal();
        net.Sent.Clear();
        net.TickAndStabilize(1, 1);
        net.Stabilize();
        Assert.Equal(net[1].LogSummary(), net[3].LogSummary());
        // The follower's rejection carried its last index, so one retry sent everything it missed.
        Assert.Single(net.Sent, m => m.Type == MessageType.MsgAppResp && m.From == 3 && m.Reject);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgApp && m.To == 3 && m.Index == 1 && m.Entries.Count == 10);
    }

    [Fact]
    public void DuplicatedAndReorderedAppendsAreHarmless()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        MessageFilter toTwo = net.Intercept("MsgApp to 2", m => m.Type == MessageType.MsgApp && m.To == 2);
        foreach (string v in new[] { "a", "b", "c" }) net.ProposeAndStabilize(1, v); // Committed with node 3.
        List<Message> held = toTwo.Captured!.ToList();
        toTwo.Remove();
        Assert.True(held.Count >= 3);
        held.Reverse();
        foreach (Message m in held.Concat(held)) net.DeliverUnfiltered(m);
        net.Stabilize();
        net.TickAndStabilize(1, 1);
        Assert.Equal(net[1].LogSummary(), net[2].LogSummary());
        Assert.Equal(new[] { "a", "b", "c" }, net[2].State);
        net.AssertStateMachinesAgree();
    }

    [Fact]
    public void StaleAppendFromDeposedLeaderIsIgnored()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        MessageFilter held = net.Intercept("MsgApp 1->3", m => m.Type == MessageType.MsgApp && m.From == 1 && m.To == 3);
        net.ProposeAndStabilize(1, "old"); // Committed with node 2; the copy for 3 is delayed.
        held.Remove();
        net.Isolate(1);
        net.Elect(2);
        net.ProposeAndStabilize(2, "new");
        foreach (Message m in held.Captured!) net.DeliverUnfiltered(m); // Term 1 arrives at a term-2 follower.
        net.Stabilize();
        Assert.Equal(2UL, net[3].Term);
        Assert.Equal(2UL, net[3].Lead);
        Assert.Equal(net[2].LogSummary(), net[3].LogSummary());
        Assert.Equal(new[] { "old", "new" }, net[3].State);
    }

    [Fact]
    public void RestartedLeaderComesBackAsFollowerWithItsLog()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        string[] log = net[1].LogSummary();
        net.Stop(1);
        net.Restart(1);
        net.Process(1);
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(log, net[1].LogSummary());
        Assert.Equal(new[] { "a" }, net[1].State); // Replayed up to the durable commit index.
        Assert.True(net.TickUntil(() => net.Leader() is not null, 4 * 10), net.Describe());
        net.ProposeAndStabilize(net.Leader()!.Id, "b");
        Assert.All(net.Nodes, n => Assert.Equal(new[] { "a", "b" }, n.State));
    }
}
