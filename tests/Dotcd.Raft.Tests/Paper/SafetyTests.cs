using Dotcd.Raft.Tests.Harness;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Raft paper §5.4: safety (election restriction, Figure 8, leader completeness).</summary>
public sealed class SafetyTests
{
    private const int E = 10;

    [Fact]
    public void CandidateMissingCommittedEntriesCannotBecomeLeader()
    {
        var net = RaftNetwork.Create(5);
        net.Elect(1);
        net.Isolate(4);
        net.Isolate(5);
        net.ProposeAndStabilize(1, "c");
        Assert.Equal(2UL, net[1].Committed);
        net.Stop(1);
        net.Heal();

        // 4 and 5 lack the committed entry: 2 and 3 refuse them, so two votes of five at most.
        foreach (ulong stale in new ulong[] { 4, 5 })
        {
            for (int attempt = 0; attempt < 3; attempt++)
            {
                net[stale].Raw.Campaign();
                net.Stabilize();
                Assert.NotEqual(StateType.Leader, net[stale].Role);
            }
        }
        Assert.True(net.TickUntil(() => net.Leader() is not null, 6 * E), net.Describe());
        TestNode leader = net.Leader()!;
        Assert.Contains(leader.Id, new ulong[] { 2, 3 });
        Assert.Contains("c", leader.PersistedData());
        net.ProposeAndStabilize(leader.Id, "d");
        foreach (ulong id in new ulong[] { 2, 3, 4, 5 }) Assert.Equal(new[] { "c", "d" }, net[id].State);
    }

    /// <summary>
    /// Figure 8 up to (c): S1 leads term 1 and puts "x" at index 2 on S1, S2; S5 wins term 2 with
    /// S3, S4 and writes its own index 2 (and "y5") nowhere else; S1 restarts and wins term 3 with
    /// S2, S3, appending its empty entry at index 3. One entry per MsgApp lets S3 receive index 2
    /// but not index 3. S4 is unreachable from S1 throughout.
    /// </summary>
    private static RaftNetwork Figure8UpToC(bool deliverCurrentTermEntryToS3)
    {
        var net = RaftNetwork.Create(5, new NodeOptions { MaxSizePerMsg = 0 });

        // (a)
        net.Elect(1);
        MessageFilter split = net.Partition([1, 2], [3, 4, 5]);
        net.ProposeAndStabilize(1, "x");
        Assert.Equal(1UL, net[1].Committed);
        split.Remove();

        // (b) S1 crashes; S5 wins term 2 with S3 and S4, but none of its entries leave it.
        net.Stop(1);
        MessageFilter s5Mute = net.Drop("S5 appends", m => m.From == 5 && m.Type == MessageType.MsgApp);
        net.Elect(5);
        Assert.Equal(2UL, net[5].Term);
        net.ProposeAndStabilize(5, "y5");
        net.Stop(5);
        s5Mute.Remove();

        // (c) S1 comes back and wins term 3 with S2 and S3.
        net.Restart(1);
        net.Cut(1, 4);
        if (!deliverCurrentTermEntryToS3)
            // Only once S3 holds index 2: the first attempt must reach it so that it can reject it.
            net.Drop("index 3 to S3", m => m.Type == MessageType.MsgApp && m.From == 1 && m.To == 3 &&
                                           m.Entries.Any(e => e.Index == 3) && net[3].PersistedLastIndex >= 2);
        net.Elect(1);
        Assert.Equal(3UL, net[1].Term);
        Assert.Equal(3UL, net[1].PersistedTerm(3)); // Its empty entry of term 3.
        return net;
    }

    [Fact]
    public void Figure8LeaderDoesNotCommitEntryOfPreviousTermByCountingReplicas()
    {
        RaftNetwork net = Figure8UpToC(deliverCurrentTermEntryToS3: false);

        // "x" (term 1, index 2) is now stored on S1, S2 and S3: a majority of five...
        foreach (ulong id in new ulong[] { 1, 2, 3 })
        {
            Assert.Equal(1UL, net[id].PersistedTerm(2));
            Assert.Contains("x", net[id].PersistedData());
        }
        // ...yet it is not committed: it is not of the leader's term and index 3 has no majority.
        Assert.Equal(1UL, net[1].Committed);
        Assert.All(net.Nodes, n => Assert.DoesNotContain("x", n.State));

        // (d) S1 crashes again; S5 (last term 2 beats S3's and S4's term 1) wins with S3 and S4 and
        // overwrites index 2 everywhere. Had S1 committed "x", this would lose a committed entry.
        net.Stop(1);
        net.Heal();
        net.Restart(5);
        net.Elect(5);
        Assert.Equal(StateType.Leader, net[5].Role);
        net.Stabilize();
        foreach (ulong id in new ulong[] { 2, 3, 4, 5 })
        {
            Assert.Equal(2UL, net[id].PersistedTerm(2));
            Assert.Equal(new[] { "y5" }, net[id].State);
        }

        net.Restart(1);
        net.TickAndStabilize(2, 5);
        Assert.Equal(new[] { "y5" }, net[1].State);
        Assert.All(net.Nodes, n => Assert.DoesNotContain("x", n.State));
        net.AssertStateMachinesAgree();
        net.AssertLogMatching();
    }

    [Fact]
    public void Figure8EntryOfPreviousTermIsCommittedTogetherWithEntryOfLeadersTerm()
    {
        RaftNetwork net = Figure8UpToC(deliverCurrentTermEntryToS3: true);

        // (e) Index 3 (term 3) reached S2 and S3: committing it commits "x" at index 2 with it.
        Assert.Equal(3UL, net[1].Committed);
        Assert.Equal(new[] { "x" }, net[1].State);

        // Now S5 cannot win: S2 and S3 hold a later last term and refuse it.
        net.Stop(1);
        net.Heal();
        net.Restart(5);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            net[5].Raw.Campaign();
            net.Stabilize();
            Assert.NotEqual(StateType.Leader, net[5].Role);
        }
        TestNode leader = net.Elect(2);
        net.ProposeAndStabilize(leader.Id, "z");
        foreach (ulong id in new ulong[] { 2, 3, 4, 5 }) Assert.Equal(new[] { "x", "z" }, net[id].State);
        net.AssertStateMachinesAgree();
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    [InlineData(4UL)]
    [InlineData(5UL)]
    [InlineData(6UL)]
    public void EveryNewLeaderHoldsEveryCommittedEntry(ulong seed)
    {
        var net = RaftNetwork.Create(5, seed: seed);
        var rng = new SeededRaftRandom(seed * 31 + 7);
        // index -> committed entry, and the highest term any node had when it was first seen
        // committed: its commit happened at or below that term, so every leader of a later term
        // must hold it (Leader Completeness).
        var committed = new Dictionary<ulong, (string Entry, ulong TermBound)>();
        var leadersSeen = new HashSet<(ulong Id, ulong Term)>();
        int proposals = 0;

        for (int step = 0; step < 60; step++)
        {
            switch (rng.Next(7))
            {
                case 0:
                case 1:
                    if (net.Leader() is { } l) net.ProposeAndStabilize(l.Id, $"s{seed}-{proposals++}");
                    break;
                case 2:
                    net.Heal();
                    int isolated = rng.Next(3);
                    for (int i = 0; i < isolated; i++) net.Isolate((ulong)rng.Next(5) + 1);
                    break;
                case 3:
                    ulong candidate = (ulong)rng.Next(5) + 1;
                    if (net[candidate].Running)
                    {
                        net[candidate].Raw.Campaign();
                        net.Stabilize();
                    }
                    break;
                case 4:
                    net.TickAndStabilize(rng.Next(2 * E) + 1);
                    break;
                case 5:
                    // Crash the leader if the cluster can spare it, else bring a member back.
                    if (net.Leader() is { } victim && net.RunningNodes.Count() > 3) net.Stop(victim.Id);
                    else if (net.Nodes.FirstOrDefault(n => !n.Running) is { } down) net.Restart(down.Id);
                    break;
                default:
                    net.Heal();
                    net.TickAndStabilize(E);
                    break;
            }

            ulong maxTerm = net.Nodes.Max(n => n.Term);
            foreach (TestNode n in net.Nodes)
            foreach (Entry e in n.AppliedEntries)
            {
                string s = TestNode.Summarize(e);
                if (committed.TryGetValue(e.Index, out var known))
                    Assert.True(known.Entry == s, $"seed {seed} step {step}: node {n.Id} applied {s} where {known.Entry} was committed");
                else committed[e.Index] = (s, maxTerm);
            }

            foreach (TestNode leader in net.RunningNodes.Where(n => n.Role == StateType.Leader))
            {
                leadersSeen.Add((leader.Id, leader.Term));
                string[] log = leader.LogSummary();
                foreach ((ulong index, (string entry, ulong bound)) in committed)
                {
                    if (leader.Term <= bound) continue;
                    Assert.True(log.Contains(entry), $"seed {seed} step {step}: leader {leader.Id} of term {leader.Term} lacks committed {entry}\n{net.Describe()}");
                }
            }
            net.AssertStateMachinesAgree();
            net.AssertLogMatching();
        }

        // Make sure the run exercised what it claims to: several leaders and real commits.
        net.Heal();
        foreach (TestNode n in net.Nodes.Where(n => !n.Running).ToList()) net.Restart(n.Id);
        // Converged: one leader at the highest term, followed by everyone.
        Assert.True(net.TickUntil(() => net.Leader() is { } l && net.Nodes.All(n => n.Term == l.Term && n.Lead == l.Id), 20 * E), net.Describe());
        net.ProposeAndStabilize(net.Leader()!.Id, "final");
        net.TickAndStabilize(E);
        Assert.True(leadersSeen.Count >= 3, $"seed {seed}: only {leadersSeen.Count} leaders");
        Assert.True(committed.Count >= 5, $"seed {seed}: only {committed.Count} committed entries");
        List<string> final = net[1].State;
        Assert.Equal("final", final[^1]);
        Assert.All(net.Nodes, n => Assert.Equal(final, n.State));
    }
}
