using Dotcd.Mvcc.Index;

namespace Dotcd.Mvcc.Tests;

public sealed class KeyIndexTests
{
    // etcd's test key: put 2, put 4, delete 6, put 8, put 10, delete 12, put 14, put 14.1, delete 16.
    private static KeyIndex NewTestKeyIndex()
    {
        var ki = new KeyIndex("foo"u8.ToArray());
        ki.Put(new Revision(2, 0));
        ki.Put(new Revision(4, 0));
        Assert.True(ki.Tombstone(new Revision(6, 0)));
        ki.Put(new Revision(8, 0));
        ki.Put(new Revision(10, 0));
        Assert.True(ki.Tombstone(new Revision(12, 0)));
        ki.Put(new Revision(14, 0));
        ki.Put(new Revision(14, 1));
        Assert.True(ki.Tombstone(new Revision(16, 0)));
        return ki;
    }

    private static string Shape(KeyIndex ki) =>
        string.Join(" | ", ki.Generations.Select(g => string.Join(",", g.Revisions.Select(r => r.Sub == 0 ? $"{r.Main}" : $"{r.Main}.{r.Sub}"))));

    [Fact]
    public void PutsAndTombstonesFormGenerations()
    {
        KeyIndex ki = NewTestKeyIndex();
        Assert.Equal("2,4,6 | 8,10,12 | 14,14.1,16 | ", Shape(ki));
        Assert.Equal(new Revision(16, 0), ki.Modified);
        Assert.False(ki.IsLive);
        Assert.False(ki.Tombstone(new Revision(17, 0)));
    }

    [Theory]
    [InlineData(1, false, 0, 0, 0)]
    [InlineData(2, true, 2, 2, 1)]
    [InlineData(5, true, 4, 2, 2)]
    [InlineData(6, false, 0, 0, 0)]
    [InlineData(7, false, 0, 0, 0)]
    [InlineData(9, true, 8, 8, 1)]
    [InlineData(13, false, 0, 0, 0)]
    [InlineData(14, true, 14, 14, 2)] // The newest change within main revision 14 is 14.1, version 2.
    [InlineData(15, true, 14, 14, 2)]
    [InlineData(16, false, 0, 0, 0)]
    public void GetReturnsTheStateAtARevision(long at, bool found, long mod, long created, long version)
    {
        KeyIndex ki = NewTestKeyIndex();
        Assert.Equal(found, ki.TryGet(at, out Revision m, out Revision c, out long v));
        if (found)
        {
            Assert.Equal(mod, m.Main);
            Assert.Equal(created, c.Main);
            Assert.Equal(version, v);
        }
    }

    // Expected shapes and kept revisions from etcd's TestKeyIndexCompactAndKeep.
    public static TheoryData<long, string, string> CompactionCases => new()
    {
        { 1, "2,4,6 | 8,10,12 | 14,14.1,16 | ", "" },
        { 2, "2,4,6 | 8,10,12 | 14,14.1,16 | ", "2" },
        { 3, "2,4,6 | 8,10,12 | 14,14.1,16 | ", "2" },
        { 4, "4,6 | 8,10,12 | 14,14.1,16 | ", "4" },
        { 5, "4,6 | 8,10,12 | 14,14.1,16 | ", "4" },
        { 6, "8,10,12 | 14,14.1,16 | ", "" },
        { 7, "8,10,12 | 14,14.1,16 | ", "" },
        { 8, "8,10,12 | 14,14.1,16 | ", "8" },
        { 9, "8,10,12 | 14,14.1,16 | ", "8" },
        { 10, "10,12 | 14,14.1,16 | ", "10" },
        { 11, "10,12 | 14,14.1,16 | ", "10" },
        { 12, "14,14.1,16 | ", "" },
        { 13, "14,14.1,16 | ", "" },
        { 14, "14.1,16 | ", "14.1" },
        { 15, "14.1,16 | ", "14.1" },
        { 16, "", "" },
    };

    [Theory, MemberData(nameof(CompactionCases))]
    public void CompactionKeepsTheNewestRevisionAtOrBelowTheCompactionRevision(long at, string shape, string kept)
    {
        KeyIndex ki = NewTestKeyIndex();
        var all = ki.Generations.SelectMany(g => g.Revisions).ToHashSet();
        var keep = new HashSet<Revision>();
        ki.Keep(at, keep);
        Assert.Equal(kept, string.Join(",", keep.Select(r => r.Sub == 0 ? $"{r.Main}" : $"{r.Main}.{r.Sub}")));
        Assert.Equal("2,4,6 | 8,10,12 | 14,14.1,16 | ", Shape(ki)); // Keep does not change the index.

        var garbage = new List<CompactedRevision>();
        ki.Compact(at, garbage);
        Assert.Equal(shape == "" ? "" : shape, ki.IsEmpty ? "" : Shape(ki));
        // Garbage and what remains partition the history; tombstones are flagged.
        var remaining = ki.Generations.SelectMany(g => g.Revisions).ToHashSet();
        Assert.Empty(remaining.Intersect(garbage.Select(g => g.Revision)));
        Assert.Equal(all.Count, remaining.Count + garbage.Count);
        foreach (CompactedRevision g in garbage)
        {
            Assert.True(g.Revision.Main <= at);
            Assert.Equal(g.Revision is { Main: 6 or 12 or 16, Sub: 0 }, g.Tombstone);
        }
        // What compaction keeps at or below the compaction revision is exactly Keep's answer.
        Assert.Equal(keep, remaining.Where(r => r.Main <= at).ToHashSet());
    }

    [Fact]
    public void ContinuousCompactionMatchesOneShotCompaction()
    {
        KeyIndex stepped = NewTestKeyIndex();
        for (long at = 1; at <= 16; at++)
        {
            var garbage = new List<CompactedRevision>();
            stepped.Compact(at, garbage);
            KeyIndex once = NewTestKeyIndex();
            once.Compact(at, new List<CompactedRevision>());
            Assert.Equal(Shape(once), Shape(stepped));
            if (stepped.IsEmpty)
            {
                break;
            }
        }
    }

    [Fact]
    public void SinceReturnsOneRevisionPerMainRevision()
    {
        KeyIndex ki = NewTestKeyIndex();
        var revs = new List<Revision>();
        ki.Since(9, revs);
        Assert.Equal([new Revision(10, 0), new Revision(12, 0), new Revision(14, 1), new Revision(16, 0)], revs);
    }

    [Fact]
    public void KeyTreeKeepsKeysOrderedThroughSplitsAndRemovals()
    {
        var tree = new KeyTree();
        var random = new Random(11);
        var model = new SortedSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < 5000; i++)
        {
            string k = $"k{random.Next(0, 3000):D5}";
            if (random.Next(4) == 0)
            {
                Assert.Equal(model.Remove(k), tree.Remove(System.Text.Encoding.ASCII.GetBytes(k)));
            }
            else if (model.Add(k))
            {
                tree.Insert(new KeyIndex(System.Text.Encoding.ASCII.GetBytes(k)));
            }
        }
        Assert.Equal(model.Count, tree.Count);
        var listed = new List<string>();
        KeyTree.Cursor c = tree.First();
        while (tree.Next(ref c, out KeyIndex item))
        {
            listed.Add(System.Text.Encoding.ASCII.GetString(item.Key));
        }
        Assert.Equal(model.ToList(), listed);

        c = tree.Seek("k01000x"u8);
        Assert.True(tree.Next(ref c, out KeyIndex first));
        Assert.Equal(model.First(k => string.CompareOrdinal(k, "k01000x") >= 0), System.Text.Encoding.ASCII.GetString(first.Key));
    }
}
