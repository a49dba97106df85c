using Dotcd.Mvcc.Watch;

namespace Dotcd.Mvcc.Tests.Watch;

[CollectionDefinition(nameof(WatcherMemoryTests), DisableParallelization = true)]
public sealed class WatcherMemoryCollection;

// Runs alone: it reads the process's heap size.
[Collection(nameof(WatcherMemoryTests))]
public sealed class WatcherMemoryTests
{
    [Fact]
    public void AWatcherKeepsLessThanEtcdsThreeHundredFiftyBytes()
    {
        using var f = new WatchFixture();
        WatchStream stream = f.Watchable.OpenStream();
        const int Count = 20_000;
        byte[][] keys = [.. Enumerable.Range(0, Count).Select(i => WatchFixture.Bytes($"/registry/pods/ns/pod-{i:D6}"))];
        byte[] prefixEnd = WatchFixture.Bytes("/registry/pods/ns0");

        // What the watchers keep alive: the heap after a full collection, before and after, with
        // their created responses drained as the gRPC sender would. Half watch a key, half a range.
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < Count; i++)
        {
            stream.Watch(0, keys[i], i % 2 == 0 ? default : prefixEnd, 0, WatchOptions.PrevKv);
            stream.TryRead(out _);
        }
        long perWatcher = (GC.GetTotalMemory(forceFullCollection: true) - before) / Count;
        Assert.Equal(Count, stream.WatcherCount);
        Assert.True(perWatcher < 350, $"{perWatcher} bytes per watcher");
        GC.KeepAlive(keys);
    }
}
