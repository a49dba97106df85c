using Dotcd.Raft.Quorum;

namespace Dotcd.Raft.Tests.Quorum;

// The cases of etcd 3.4's raft/quorum/testdata (majority_commit, joint_commit, majority_vote,
// joint_vote). Ids are given as "1,2,3"; cfgj is the outgoing half ("" = not joint, "zero" = joint
// with an empty outgoing half). Indexes and votes are assigned to the ids of cfg then cfgj in
// order, skipping repeats; "_" means "nothing known" (no acked index, no vote).
public sealed class QuorumTests
{
    [Theory]
    [InlineData("", "", "", ulong.MaxValue)]
    [InlineData("1", "", "_", 0UL)]
    [InlineData("1", "", "12", 12UL)]
    [InlineData("1,2", "", "_,_", 0UL)]
    [InlineData("1,2", "", "12,_", 0UL)]
    [InlineData("1,2", "", "12,5", 5UL)]
    [InlineData("1,2,3", "", "_,_,_", 0UL)]
    [InlineData("1,2,3", "", "12,_,_", 0UL)]
    [InlineData("1,2,3", "", "12,5,_", 5UL)]
    [InlineData("1,2,3", "", "12,5,6", 6UL)]
    [InlineData("1,2,3", "", "12,5,4", 5UL)]
    [InlineData("1,2,3", "", "5,5,_", 5UL)]
    [InlineData("1,2,3", "", "5,5,12", 5UL)]
    [InlineData("1,2,3", "", "100,101,103", 101UL)]
    [InlineData("1,2,3,4,5", "", "101,104,103,103,_", 103UL)]
    [InlineData("1,2,3,4,5", "", "101,102,103,103,_", 102UL)]
    [InlineData("1,2,3", "zero", "100,101,99", 100UL)]
    [InlineData("1", "2", "_,_", 0UL)]
    [InlineData("1", "2", "100,_", 0UL)]
    [InlineData("1", "2", "13,100", 13UL)]
    [InlineData("1", "1", "_", 0UL)]
    [InlineData("1", "1", "100", 100UL)]
    [InlineData("1,3", "2", "_,_,_", 0UL)]
    [InlineData("1,3", "2", "100,_,_", 0UL)]
    [InlineData("1,3", "2", "100,_,50", 0UL)]
    [InlineData("1,3", "2", "100,45,50", 45UL)]
    [InlineData("1,2", "2", "_,_", 0UL)]
    [InlineData("1,2", "2", "100,_", 0UL)]
    [InlineData("1,2", "2", "_,100", 0UL)]
    [InlineData("1,2", "2", "50,100", 50UL)]
    [InlineData("1,2", "2", "100,50", 50UL)]
    [InlineData("1,2", "3,4", "50,_,_,_", 0UL)]
    [InlineData("1,2", "3,4", "50,_,49,_", 0UL)]
    [InlineData("1,2", "3,4", "50,48,49,_", 0UL)]
    [InlineData("1,2", "3,4", "50,48,49,47", 47UL)]
    [InlineData("1,2", "2,3", "_,_,_", 0UL)]
    [InlineData("1,2", "2,3", "100,_,_", 0UL)]
    [InlineData("1,2", "2,3", "_,100,_", 0UL)]
    [InlineData("1,2", "2,3", "_,100,99", 0UL)]
    [InlineData("1,2", "2,3", "101,100,99", 99UL)]
    [InlineData("1,2", "1,2", "_,_", 0UL)]
    [InlineData("1,2", "1,2", "_,40", 0UL)]
    [InlineData("1,2", "1,2", "41,40", 40UL)]
    [InlineData("1,2,3", "4,5,6", "_,_,_,_,_,_", 0UL)]
    [InlineData("1,2,3", "4,5,6", "100,_,_,_,_,_", 0UL)]
    [InlineData("1,2,3", "4,5,6", "100,_,_,90,_,_", 0UL)]
    [InlineData("1,2,3", "4,5,6", "100,99,_,_,_,_", 0UL)]
    [InlineData("1,2,3", "4,5,6", "_,99,90,97,95,_", 90UL)]
    [InlineData("1,2,3", "4,5,6", "92,99,90,97,95,_", 92UL)]
    [InlineData("1,2,3", "4,5,6", "92,99,90,97,95,77", 92UL)]
    [InlineData("1,2,3", "1,4,5", "_,_,_,_,_", 0UL)]
    [InlineData("1,2,3", "1,4,5", "100,_,_,_,_", 0UL)]
    [InlineData("1,2,3", "1,4,5", "100,101,_,_,_", 0UL)]
    [InlineData("1,2,3", "1,4,5", "100,101,100,_,_", 0UL)]
    [InlineData("1,2,3", "1,4,5", "_,100,_,99,98", 0UL)]
    [InlineData("1,2,3", "1,4,5", "_,100,99,99,98", 98UL)]
    [InlineData("1,2,3", "1,4,5", "1,100,99,99,98", 98UL)]
    [InlineData("1,2,3", "1,4,5", "100,100,99,99,98", 99UL)]
    [InlineData("1,2,3", "2,3,4", "_,_,_,_", 0UL)]
    [InlineData("1,2,3", "2,3,4", "_,100,99,_", 99UL)]
    [InlineData("1,2,3", "2,3,4", "98,100,99,_", 99UL)]
    [InlineData("1,2,3", "2,3,4", "100,100,99,_", 99UL)]
    [InlineData("1,2,3", "2,3,4", "100,100,99,98", 99UL)]
    [InlineData("1,2,3", "2,3,4", "100,_,_,101", 0UL)]
    [InlineData("1,2,3", "2,3,4", "100,99,_,101", 99UL)]
    [InlineData("1,2,3", "1,2,3", "50,45,_", 45UL)]
    public void CommittedIndexMatchesEtcd(string cfg, string cfgj, string idx, ulong expected)
    {
        var incoming = new MajorityConfig(ParseIds(cfg));
        var outgoing = new MajorityConfig(cfgj == "zero" ? [] : ParseIds(cfgj));
        var acked = new MapAckedIndexer(AssignInOrder(cfg, cfgj, idx, v => v == "_" ? 0UL : ulong.Parse(v)).Where(kv => kv.Value != 0));

        if (cfgj.Length == 0)
        {
            Assert.Equal(expected, incoming.CommittedIndex(acked));
            Assert.Equal(expected, BruteForceCommittedIndex(incoming, acked));
            // A majority config joint with an empty or an identical config decides the same.
            Assert.Equal(expected, new JointConfig(incoming, new MajorityConfig()).CommittedIndex(acked));
            Assert.Equal(expected, new JointConfig(incoming, incoming.Clone()).CommittedIndex(acked));
        }
        else
        {
            Assert.Equal(expected, new JointConfig(incoming, outgoing).CommittedIndex(acked));
            Assert.Equal(expected, new JointConfig(outgoing, incoming).CommittedIndex(acked));
        }
    }

    [Theory]
    [InlineData("", "", "", "Won")]
    [InlineData("1", "", "_", "Pending")]
    [InlineData("1", "", "n", "Lost")]
    [InlineData("123", "", "y", "Won")]
    [InlineData("4,8", "", "_,_", "Pending")]
    [InlineData("4,8", "", "n,_", "Lost")]
    [InlineData("4,8", "", "y,_", "Pending")]
    [InlineData("4,8", "", "n,y", "Lost")]
    [InlineData("4,8", "", "y,y", "Won")]
    [InlineData("2,4,7", "", "_,_,_", "Pending")]
    [InlineData("2,4,7", "", "n,_,_", "Pending")]
    [InlineData("2,4,7", "", "y,_,_", "Pending")]
    [InlineData("2,4,7", "", "n,n,_", "Lost")]
    [InlineData("2,4,7", "", "y,n,_", "Pending")]
    [InlineData("2,4,7", "", "y,y,_", "Won")]
    [InlineData("2,4,7", "", "y,y,n", "Won")]
    [InlineData("2,4,7", "", "n,y,n", "Lost")]
    [InlineData("1,2,3,4,5,6,7", "", "y,y,n,y,_,_,_", "Pending")]
    [InlineData("1,2,3,4,5,6,7", "", "_,y,y,_,n,y,n", "Pending")]
    [InlineData("1,2,3,4,5,6,7", "", "y,y,n,y,_,n,y", "Won")]
    [InlineData("1,2,3,4,5,6,7", "", "y,y,_,n,y,n,n", "Pending")]
    [InlineData("1,2,3,4,5,6,7", "", "y,y,n,y,n,n,n", "Lost")]
    [InlineData("", "zero", "", "Won")]
    [InlineData("1", "zero", "_", "Pending")]
    [InlineData("1", "zero", "y", "Won")]
    [InlineData("1", "zero", "n", "Lost")]
    [InlineData("1", "1", "_", "Pending")]
    [InlineData("1", "1", "y", "Won")]
    [InlineData("1", "1", "n", "Lost")]
    [InlineData("1", "2", "_,_", "Pending")]
    [InlineData("1", "2", "y,_", "Pending")]
    [InlineData("1", "2", "y,y", "Won")]
    [InlineData("1", "2", "y,n", "Lost")]
    [InlineData("1", "2", "n,_", "Lost")]
    [InlineData("1", "2", "n,n", "Lost")]
    [InlineData("1", "2", "n,y", "Lost")]
    [InlineData("1,2", "3,4", "_,_,_,_", "Pending")]
    [InlineData("1,2", "3,4", "y,_,_,_", "Pending")]
    [InlineData("1,2", "3,4", "y,y,_,_", "Pending")]
    [InlineData("1,2", "3,4", "y,y,n,_", "Lost")]
    [InlineData("1,2", "3,4", "y,y,n,n", "Lost")]
    [InlineData("1,2", "3,4", "y,y,y,n", "Lost")]
    [InlineData("1,2", "3,4", "y,y,y,y", "Won")]
    [InlineData("1,2", "2,3", "_,_,_", "Pending")]
    [InlineData("1,2", "2,3", "_,n,_", "Lost")]
    [InlineData("1,2", "2,3", "y,y,_", "Pending")]
    [InlineData("1,2", "2,3", "y,y,n", "Lost")]
    [InlineData("1,2", "2,3", "y,y,y", "Won")]
    [InlineData("1,2", "1,2", "_,_", "Pending")]
    [InlineData("1,2", "1,2", "y,_", "Pending")]
    [InlineData("1,2", "1,2", "y,n", "Lost")]
    [InlineData("1,2", "1,2", "n,_", "Lost")]
    [InlineData("1,2", "1,2", "n,n", "Lost")]
    [InlineData("1,2,3", "2,3,4", "_,_,_,_", "Pending")]
    [InlineData("1,2,3", "2,3,4", "_,n,_,_", "Pending")]
    [InlineData("1,2,3", "2,3,4", "_,n,n,_", "Lost")]
    [InlineData("1,2,3", "2,3,4", "_,y,y,_", "Won")]
    [InlineData("1,2,3", "2,3,4", "y,y,_,_", "Pending")]
    [InlineData("1,2,3", "2,3,4", "y,y,n,_", "Pending")]
    [InlineData("1,2,3", "2,3,4", "y,y,n,n", "Lost")]
    [InlineData("1,2,3", "2,3,4", "y,y,n,y", "Won")]
    public void VoteResultMatchesEtcd(string cfg, string cfgj, string votes, string expected)
    {
        var incoming = new MajorityConfig(ParseIds(cfg));
        var outgoing = new MajorityConfig(cfgj == "zero" ? [] : ParseIds(cfgj));
        var recorded = AssignInOrder(cfg, cfgj, votes, v => v)
            .Where(kv => kv.Value != "_")
            .ToDictionary(kv => kv.Key, kv => kv.Value == "y");

        var want = Enum.Parse<VoteResult>(expected);
        if (cfgj.Length == 0)
        {
            Assert.Equal(want, incoming.VoteResult(recorded));
        }
        else
        {
            Assert.Equal(want, new JointConfig(incoming, outgoing).VoteResult(recorded));
            Assert.Equal(want, new JointConfig(outgoing, incoming).VoteResult(recorded));
        }
    }

    [Fact]
    public void CommittedIndexAgreesWithBruteForceOnRandomConfigs()
    {
        var random = new Random(4242);
        for (int round = 0; round < 2000; round++)
        {
            int n = random.Next(10);
            var ids = Enumerable.Range(0, 2 * n).OrderBy(_ => random.Next()).Take(n).Select(i => (ulong)i).ToList();
            var config = new MajorityConfig(ids);
            var acked = new MapAckedIndexer(ids.Where(_ => random.Next(4) != 0)
                .Select(id => new KeyValuePair<ulong, ulong>(id, (ulong)random.Next(Math.Max(n, 1)))));

            Assert.Equal(BruteForceCommittedIndex(config, acked), config.CommittedIndex(acked));
        }
    }

    [Fact]
    public void DescribeDrawsEtcdsTableForAMajority()
    {
        var config = new MajorityConfig([1, 2, 3]);
        var acked = new MapAckedIndexer([new(1, 100), new(2, 101), new(3, 99)]);

        Assert.Equal(
            "       idx\n" +
            "x>     100    (id=1)\n" +
            "xx>    101    (id=2)\n" +
            ">       99    (id=3)\n",
            config.Describe(acked));
    }

    [Fact]
    public void DescribeOfAJointConfigMarksUnknownVotersAsEtcdDoes()
    {
        // etcd's joint_commit case "cfg=(1,2,3) cfgj=(2,3,4) idx=(100,100,99,_)": a tie keeps a
        // bar only on its first row (by id), unknown voters show "?".
        var config = new JointConfig(new MajorityConfig([1, 2, 3]), new MajorityConfig([2, 3, 4]));
        var acked = new MapAckedIndexer([new(1, 100), new(2, 100), new(3, 99)]);

        Assert.Equal(
            "        idx\n" +
            "xx>     100    (id=1)\n" +
            ">       100    (id=2)\n" +
            "x>       99    (id=3)\n" +
            "?         0    (id=4)\n",
            config.Describe(acked));
        Assert.Equal(99UL, config.CommittedIndex(acked));
        Assert.Equal("<empty majority quorum>", new MajorityConfig().Describe(acked));
    }

    [Fact]
    public void ConfigsPrintTheirIdsAscending()
    {
        var incoming = new MajorityConfig([3, 1, 2]);
        Assert.Equal("(1 2 3)", incoming.ToString());
        Assert.Equal("()", new MajorityConfig().ToString());
        Assert.Equal("(1 2 3)", new JointConfig(incoming, new MajorityConfig()).ToString());
        Assert.Equal("(1 2 3)&&(1 2 4)", new JointConfig(incoming, new MajorityConfig([4, 2, 1])).ToString());
        Assert.Equal([1UL, 2, 3], incoming.Sorted());
        Assert.Equal([1UL, 2, 3], incoming.ToArray());
    }

    [Fact]
    public void JointConfigIsJointOnlyWithAnOutgoingHalf()
    {
        var joint = new JointConfig(new MajorityConfig([1, 2]), new MajorityConfig([2, 3]));
        Assert.True(joint.IsJoint);
        Assert.Equal([1UL, 2, 3], joint.Ids());
        Assert.False(new JointConfig(new MajorityConfig([1, 2]), new MajorityConfig()).IsJoint);
    }

    [Fact]
    public void CloneIsIndependentOfTheOriginal()
    {
        var joint = new JointConfig(new MajorityConfig([1, 2]), new MajorityConfig([2, 3]));
        var copy = joint.Clone();
        copy.Incoming.Add(9);
        copy.Outgoing.Remove(3);
        Assert.Equal("(1 2)&&(2 3)", joint.ToString());
        Assert.Equal("(1 2 9)&&(2)", copy.ToString());
    }

    // The largest index that at least a majority of voters has acked (unknown counts as 0).
    private static ulong BruteForceCommittedIndex(MajorityConfig config, IAckedIndexer acked)
    {
        if (config.Count == 0)
        {
            return ulong.MaxValue;
        }
        var indexes = config.Select(id => acked.TryGetAckedIndex(id, out ulong i) ? i : 0).ToList();
        return indexes.Where(candidate => indexes.Count(i => i >= candidate) > config.Count / 2).Max();
    }

    private static List<ulong> ParseIds(string ids) =>
        ids.Length == 0 ? [] : ids.Split(',').Select(ulong.Parse).ToList();

    private static List<KeyValuePair<ulong, T>> AssignInOrder<T>(string cfg, string cfgj, string values, Func<string, T> parse)
    {
        var vals = values.Length == 0 ? [] : values.Split(',');
        var ids = ParseIds(cfg).Concat(cfgj == "zero" ? [] : ParseIds(cfgj)).Distinct().ToList();
        Assert.Equal(ids.Count, vals.Length); // The testdata gives exactly one value per voter.
        return ids.Select((id, i) => new KeyValuePair<ulong, T>(id, parse(vals[i]))).ToList();
    }
}

internal sealed class MapAckedIndexer(IEnumerable<KeyValuePair<ulong, ulong>> acked) : IAckedIndexer
{
    private readonly Dictionary<ulong, ulong> _acked = new(acked);

    public bool TryGetAckedIndex(ulong voterId, out ulong index) => _acked.TryGetValue(voterId, out index);
}
