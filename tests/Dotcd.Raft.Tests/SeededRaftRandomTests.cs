using Dotcd.Raft;

namespace Dotcd.Raft.Tests;

public sealed class SeededRaftRandomTests
{
    [Fact]
    public void SameSeedGivesSameSequence()
    {
        var a = new SeededRaftRandom(42);
        var b = new SeededRaftRandom(42);
        for (int i = 0; i < 100; i++) Assert.Equal(a.Next(1000), b.Next(1000));
    }

    [Fact]
    public void ValuesStayInRangeAndVary()
    {
        var r = new SeededRaftRandom(7);
        var seen = new HashSet<int>();
        for (int i = 0; i < 1000; i++)
        {
            int v = r.Next(10);
            Assert.InRange(v, 0, 9);
            seen.Add(v);
        }
        Assert.Equal(10, seen.Count);
    }
}
