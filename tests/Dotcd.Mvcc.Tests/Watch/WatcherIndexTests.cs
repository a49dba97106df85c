using Dotcd.Mvcc.Watch;

namespace Dotcd.Mvcc.Tests.Watch;

public sealed class WatcherIndexTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void IntervalMatchingFindsExactlyTheWatchersWhoseRangeHoldsTheKey(int seed)
    {
        var random = new Random(seed);
        using var f = new WatchFixture();
        WatchStream stream = f.Watchable.OpenStream();
        var index = new WatcherIndex();
        var live = new List<Watcher>();
        string Key() => new string((char)('a' + random.Next(6)), 1) + (random.Next(2) == 0 ? "" : ((char)('a' + random.Next(6))).ToString());
        for (int step = 0; step < 3000; step++)
        {
            if (live.Count > 0 && random.Next(3) == 0)
            {
                Watcher gone = live[random.Next(live.Count)];
                index.Remove(gone);
                live.Remove(gone);
            }
            else
            {
                string from = Key();
                byte[]? end = random.Next(3) switch
                {
                    0 => null,
                    1 => [],
                    _ => WatchFixture.Bytes(Key()),
                };
                if (end is { Length: > 0 } && from.CompareTo(System.Text.Encoding.UTF8.GetString(end)) >= 0)
                {
                    continue;
                }
                var w = new Watcher(stream, step, WatchFixture.Bytes(from), end, 0, WatchOptions.None);
                index.Add(w);
                live.Add(w);
            }
            Assert.Equal(live.Count, index.Count);
            byte[] probe = WatchFixture.Bytes(Key());
            var matched = new List<Watcher>();
            index.Match(probe, matched);
            Assert.Equal(
                live.Where(w => w.Covers(probe)).Select(w => w.Id).Order(),
                matched.Select(w => w.Id).Order());
        }
    }
}
