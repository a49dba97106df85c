using System.Text;

namespace Dotcd.Raft.Tests.Core;

/// <summary>
/// Seeded chaos over the in-test pump: random message loss, partitions and log compaction, then
/// healing. Checks election safety, that applied logs never disagree, and progress after healing.
/// </summary>
public sealed class RandomizedClusterTests
{
    public static TheoryData<int, bool> Seeds => new() { { 1, false }, { 2, true }, { 3, false }, { 4, true }, { 5, true } };

    [Theory, MemberData(nameof(Seeds))]
    public void ClusterStaysSafeUnderLossPartitionsAndCompaction(int seed, bool preVote)
    {
        var rng = new Random(seed);
        var cluster = new CoreCluster(5, CoreCluster.Config(preVote: preVote, checkQuorum: preVote));
        var leaders = new Dictionary<ulong, ulong>(); // term -> leader id
        int proposals = 0;

        cluster.DropWhen = _ => rng.NextDouble() < 0.1;
        for (int step = 0; step < 600; step++)
        {
            if (step % 100 == 0)
            {
                cluster.Cut.Clear();
                if (step < 500) cluster.Isolate((ulong)rng.Next(1, 6));
            }
            if (step == 500) cluster.DropWhen = null;

            foreach (CoreNode n in cluster.Nodes.Values)
            {
                n.Node.Tick();
                if (rng.NextDouble() < 0.2) n.Node.Propose(Encoding.UTF8.GetBytes($"p{proposals++}"));
            }
            cluster.Stabilize();

            foreach (CoreNode n in cluster.Nodes.Values)
            {
                Status st = n.Node.Status();
                if (st.RaftState != StateType.Leader) continue;
                if (leaders.TryGetValue(st.Term, out ulong other)) Assert.Equal(other, n.Id);
                else leaders[st.Term] = n.Id;

                // Hosts compact now and then, forcing snapshots to lagging followers.
                if (rng.NextDouble() < 0.05 && st.Applied > n.Storage.FirstIndex())
                {
                    n.Storage.CreateSnapshot(st.Applied, st.Config, default, out _);
                    n.Storage.Compact(st.Applied);
                }
            }
            if (step % 50 == 0) AssertAppliedLogsAgree(cluster);
        }

        // Healed: a leader exists and a new proposal reaches every member.
        cluster.TickAll(30);
        ulong? leader = cluster.Leader();
        Assert.NotNull(leader);
        Assert.Equal(RaftError.None, cluster[leader.Value].Node.Propose("final"u8.ToArray()));
        cluster.TickAll(5);
        ulong commit = cluster[leader.Value].Node.Status().HardState.Commit;
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(commit, n.Node.Status().Applied));
        AssertAppliedLogsAgree(cluster);
    }

    private static void AssertAppliedLogsAgree(CoreCluster cluster)
    {
        // Every applied entry at an index must be the same entry on every member (a member that got
        // a snapshot skips entries, so compare by index).
        var byIndex = new Dictionary<ulong, Entry>();
        foreach (CoreNode n in cluster.Nodes.Values)
        {
            foreach (Entry e in n.Applied)
            {
                if (byIndex.TryGetValue(e.Index, out Entry seen))
                {
                    Assert.Equal(seen.Term, e.Term);
                    Assert.True(seen.Data.Span.SequenceEqual(e.Data.Span), $"entry {e.Index} differs on node {n.Id}");
                }
                else
                {
                    byIndex[e.Index] = e;
                }
            }
        }
    }
}
