using Dotcd.Raft.Tests.Harness;
using static Dotcd.Raft.Tests.Harness.Msg;

namespace Dotcd.Raft.Tests.Paper;

/// <summary>Raft paper §5.2: leader election.</summary>
public sealed class LeaderElectionTests
{
    private const int E = 10; // NodeOptions.Default.ElectionTick

    [Fact]
    public void NodesStartAsFollowersAtTermZero()
    {
        var net = RaftNetwork.Create(3);
        foreach (TestNode n in net.Nodes)
        {
            Assert.Equal(StateType.Follower, n.Role);
            Assert.Equal(0UL, n.Term);
            Assert.Equal(0UL, n.Lead);
        }
    }

    [Fact]
    public void FollowerStartsElectionAfterRandomizedElectionTimeout()
    {
        var timeouts = new HashSet<int>();
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var net = RaftNetwork.Create(3, seed: seed);
            TestNode n = net[1];
            int ticks = 0;
            while (n.Term == 0)
            {
                Assert.True(ticks < 2 * E, $"seed {seed}: no election after {ticks} ticks");
                net.Tick(1);
                ticks++;
            }
            Assert.Equal(StateType.Candidate, n.Role);
            Assert.Equal(1UL, n.Term);
            Assert.Equal(1UL, n.Vote); // A candidate votes for itself.
            Assert.InRange(ticks, E, 2 * E - 1);
            timeouts.Add(ticks);
        }
        // Randomized: forty seeds must not all draw the same timeout.
        Assert.True(timeouts.Count >= 3, $"timeouts not randomized: {string.Join(",", timeouts)}");
    }

    [Fact]
    public void CandidateRetriesWithNewRandomizedTimeoutWhenNoOneAnswers()
    {
        var retries = new HashSet<int>();
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var net = RaftNetwork.Create(3, seed: seed);
            net.Isolate(1);
            TestNode n = net[1];
            while (n.Term == 0) net.Tick(1);
            net.Stabilize(); // Vote requests are lost.
            Assert.Equal(StateType.Candidate, n.Role);
            int ticks = 0;
            while (n.Term == 1)
            {
                Assert.True(ticks < 2 * E, $"seed {seed}: candidate did not retry after {ticks} ticks");
                net.Tick(1);
                ticks++;
            }
            Assert.Equal(2UL, n.Term);
            Assert.Equal(StateType.Candidate, n.Role);
            Assert.InRange(ticks, E, 2 * E - 1);
            retries.Add(ticks);
        }
        Assert.True(retries.Count >= 3, $"candidate timeouts not randomized: {string.Join(",", retries)}");
    }

    [Fact]
    public void CandidateSendsVoteRequestsWithItsLastLogPosition()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        net.Isolate(1);
        net.Sent.Clear();
        net[2].Raw.Campaign();
        net.Process(2);
        Message[] votes = net.Sent.Where(m => m.Type == MessageType.MsgVote).ToArray();
        Assert.Equal(new ulong[] { 1, 3 }, votes.Select(m => m.To).ToArray());
        Assert.All(votes, v =>
        {
            Assert.Equal(2UL, v.From);
            Assert.Equal(2UL, v.Term);
            Assert.Equal(2UL, v.Index);   // Last index: the leader's empty entry and "a".
            Assert.Equal(1UL, v.LogTerm); // Term of that entry.
        });
    }

    [Fact]
    public void CandidateWinsWithVotesFromMajority()
    {
        var net = RaftNetwork.Create(5);
        net.Isolate(4);
        net.Isolate(5);
        net[1].Raw.Campaign();
        net.Stabilize();
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(1UL, net[2].Lead);
        Assert.Equal(1UL, net[3].Lead);
        Assert.Equal(0UL, net[4].Term);
    }

    [Fact]
    public void CandidateWithoutMajorityDoesNotBecomeLeader()
    {
        var net = RaftNetwork.Create(5);
        net.Isolate(3);
        net.Isolate(4);
        net.Isolate(5);
        net[1].Raw.Campaign();
        net.Stabilize();
        Assert.Equal(StateType.Candidate, net[1].Role);
        Assert.Equal(1UL, net[2].Vote); // Node 2 granted, but two votes of five are not enough.
        Assert.Equal(0UL, net[2].Lead);
    }

    [Fact]
    public void CandidateLosesWhenMajorityRejects()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        // Node 3 misses "b"; when it campaigns both others have a better log and reject.
        net.Isolate(3);
        net.ProposeAndStabilize(1, "b");
        net.Heal();
        net[3].Raw.Campaign();
        net.Stabilize();
        Assert.NotEqual(StateType.Leader, net[3].Role);
        Assert.Contains(net.Sent, m => m.Type == MessageType.MsgVoteResp && m.To == 3 && m.Reject);
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgVoteResp && m.To == 3 && !m.Reject);
    }

    [Fact]
    public void CandidateStepsDownWhenLeaderOfSameTermAppends()
    {
        var net = RaftNetwork.Create(3);
        net[1].Raw.Campaign();
        Assert.Equal(StateType.Candidate, net[1].Role);
        net[1].Raw.Step(App(from: 2, to: 1, term: 1, prevLogTerm: 0, prevIndex: 0, commit: 0));
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(2UL, net[1].Lead);
    }

    [Fact]
    public void CandidateStepsDownOnHeartbeatOfHigherTerm()
    {
        var net = RaftNetwork.Create(3);
        net[1].Raw.Campaign();
        net[1].Raw.Step(Heartbeat(from: 3, to: 1, term: 5));
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(5UL, net[1].Term);
        Assert.Equal(3UL, net[1].Lead);
    }

    [Fact]
    public void CandidateIgnoresAppendOfLowerTerm()
    {
        var net = RaftNetwork.Create(3);
        net[1].Raw.Step(Heartbeat(from: 2, to: 1, term: 2));
        net[1].Raw.Campaign(); // Term 3.
        net[1].Raw.Step(App(from: 2, to: 1, term: 2, prevLogTerm: 0, prevIndex: 0, commit: 0, Ent(2, 1, "stale")));
        net.Process(1);
        Assert.Equal(StateType.Candidate, net[1].Role);
        Assert.Equal(3UL, net[1].Term);
        Assert.Equal(0UL, net[1].PersistedLastIndex);
    }

    [Theory]
    [InlineData(StateType.Follower)]
    [InlineData(StateType.PreCandidate)]
    [InlineData(StateType.Candidate)]
    [InlineData(StateType.Leader)]
    public void HigherTermTurnsAnyRoleIntoFollower(StateType role)
    {
        var net = RaftNetwork.Create(3, new NodeOptions { PreVote = role == StateType.PreCandidate });
        switch (role)
        {
            case StateType.PreCandidate:
            case StateType.Candidate:
                net[1].Raw.Campaign();
                break;
            case StateType.Leader:
                net.Elect(1);
                break;
        }
        Assert.Equal(role, net[1].Role);
        ulong term = net[1].Term;
        net[1].Raw.Step(App(from: 2, to: 1, term: term + 3, prevLogTerm: 0, prevIndex: 0, commit: 0));
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(term + 3, net[1].Term);
        Assert.Equal(2UL, net[1].Lead);
    }

    [Fact]
    public void LeaderStepsDownOnVoteRequestOfHigherTerm()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net[1].Raw.Step(Vote(from: 3, to: 1, term: 4, lastLogTerm: 1, lastIndex: 1));
        Assert.Equal(StateType.Follower, net[1].Role);
        Assert.Equal(4UL, net[1].Term);
        Assert.Equal(0UL, net[1].Lead);
        Assert.Equal(3UL, net[1].Vote); // Its log is as up to date as node 3's, so it grants.
    }

    [Fact]
    public void NodeGrantsAtMostOneVotePerTermFirstComeFirstServed()
    {
        var net = RaftNetwork.Create(3);
        TestNode n = net[1];
        n.Raw.Step(Vote(from: 2, to: 1, term: 1, lastLogTerm: 0, lastIndex: 0));
        n.Raw.Step(Vote(from: 3, to: 1, term: 1, lastLogTerm: 0, lastIndex: 0));
        n.Raw.Step(Vote(from: 2, to: 1, term: 1, lastLogTerm: 0, lastIndex: 0)); // A retry of the granted request.
        IReadOnlyList<Message> out1 = net.Process(1);
        Message[] resps = out1.Where(m => m.Type == MessageType.MsgVoteResp).ToArray();
        Assert.Equal(3, resps.Length);
        Assert.Equal((2UL, false), (resps[0].To, resps[0].Reject));
        Assert.Equal((3UL, true), (resps[1].To, resps[1].Reject));
        Assert.Equal((2UL, false), (resps[2].To, resps[2].Reject));
        // The vote is durable before the response is sent.
        Assert.Equal(new HardState(1, 2, 0), n.Storage.InitialState().HardState);
    }

    [Fact]
    public void VoteIsDurableAcrossRestart()
    {
        var net = RaftNetwork.Create(3);
        net[1].Raw.Step(Vote(from: 2, to: 1, term: 1, lastLogTerm: 0, lastIndex: 0));
        net.Process(1);
        net.Stop(1);
        net.Restart(1);
        Assert.Equal(1UL, net[1].Term);
        Assert.Equal(2UL, net[1].Vote);
        net[1].Raw.Step(Vote(from: 3, to: 1, term: 1, lastLogTerm: 0, lastIndex: 0));
        Message resp = Assert.Single(net.Process(1), m => m.Type == MessageType.MsgVoteResp);
        Assert.True(resp.Reject); // It already voted in term 1 before the crash.
    }

    [Fact]
    public void NodeVotesAgainInANewTerm()
    {
        var net = RaftNetwork.Create(3);
        net[1].Raw.Step(Vote(from: 2, to: 1, term: 1, lastLogTerm: 0, lastIndex: 0));
        net[1].Raw.Step(Vote(from: 3, to: 1, term: 2, lastLogTerm: 0, lastIndex: 0));
        Message[] resps = net.Process(1).Where(m => m.Type == MessageType.MsgVoteResp).ToArray();
        Assert.All(resps, r => Assert.False(r.Reject));
        Assert.Equal(3UL, net[1].Vote);
        Assert.Equal(2UL, net[1].Term);
    }

    // Node 2 holds [1/1, 1/2] (term/index). §5.4.1: grant only to a log at least as up to date.
    [Theory]
    [InlineData(1UL, 1UL, true)]   // Same last term, shorter: reject.
    [InlineData(0UL, 0UL, true)]   // Empty log: reject.
    [InlineData(1UL, 2UL, false)]  // Identical: grant.
    [InlineData(1UL, 3UL, false)]  // Same last term, longer: grant.
    [InlineData(2UL, 1UL, false)]  // Higher last term though shorter: grant.
    public void NodeRejectsVoteForLessUpToDateLog(ulong lastLogTerm, ulong lastIndex, bool rejected)
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.ProposeAndStabilize(1, "a");
        Assert.Equal(2UL, net[2].PersistedLastIndex);
        net[2].Raw.Step(Vote(from: 3, to: 2, term: 5, lastLogTerm, lastIndex));
        Message resp = Assert.Single(net.Process(2), m => m.Type == MessageType.MsgVoteResp);
        Assert.Equal(rejected, resp.Reject);
        Assert.Equal(5UL, net[2].Term); // The higher term is adopted either way.
        Assert.Equal(rejected ? 0UL : 3UL, net[2].Vote);
    }

    [Fact]
    public void SplitVoteIsResolvedByRandomizedTimeouts()
    {
        var net = RaftNetwork.Create(4, seed: 3);
        // Nodes 1 and 3 campaign at once; 2 hears only from 1, 4 only from 3: two votes each of four.
        net.Drop("1->4 vote", m => m.Type == MessageType.MsgVote && m.From == 1 && m.To == 4);
        net.Drop("3->2 vote", m => m.Type == MessageType.MsgVote && m.From == 3 && m.To == 2);
        net[1].Raw.Campaign();
        net[3].Raw.Campaign();
        net.Stabilize();
        Assert.Null(net.Leader());
        Assert.All(net.Nodes, n => Assert.Equal(1UL, n.Term));
        net.Heal();

        // Nobody leads term 1; new randomized timeouts make one node campaign first and win.
        Assert.True(net.TickUntil(() => net.Leader() is not null, 4 * E), net.Describe());
        TestNode leader = net.Leader()!;
        Assert.True(leader.Term >= 2);
        Assert.Single(net.Nodes, n => n.Role == StateType.Leader);
        Assert.All(net.Nodes, n => Assert.Equal(leader.Id, n.Lead));
    }

    [Fact]
    public void HeartbeatsKeepFollowersFromStartingElections()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.TickAndStabilize(10 * E);
        Assert.Equal(StateType.Leader, net[1].Role);
        Assert.All(net.Nodes, n => Assert.Equal(1UL, n.Term));
        Assert.DoesNotContain(net.Sent, m => m.Type == MessageType.MsgVote && m.Term > 1);
    }

    [Fact]
    public void LeaderSendsHeartbeatEveryHeartbeatTick()
    {
        var net = RaftNetwork.Create(3, new NodeOptions { HeartbeatTick = 3 });
        net.Elect(1);
        net.Tick(1, 2);
        Assert.DoesNotContain(net.Process(1), m => m.Type == MessageType.MsgHeartbeat);
        net.Tick(1);
        Message[] beats = net.Process(1).Where(m => m.Type == MessageType.MsgHeartbeat).ToArray();
        Assert.Equal(new ulong[] { 2, 3 }, beats.Select(m => m.To).OrderBy(x => x).ToArray());
        Assert.All(beats, b => Assert.Equal(1UL, b.Term));
    }

    [Fact]
    public void FollowersElectNewLeaderWhenLeaderStops()
    {
        var net = RaftNetwork.Create(3);
        net.Elect(1);
        net.Stop(1);
        Assert.True(net.TickUntil(() => net.Leader() is not null, 2 * E + 1), net.Describe());
        TestNode leader = net.Leader()!;
        Assert.NotEqual(1UL, leader.Id);
        Assert.Equal(2UL, leader.Term);
    }
}
