using Dotcd.Server.RaftLoop;
using static Dotcd.Server.Tests.RaftLoop.RaftLoopTest;

namespace Dotcd.Server.Tests.RaftLoop;

public sealed class RestartTests
{
    [Fact]
    public async Task RestartReplaysOnlyTheWalEntriesAfterTheConsistentIndex()
    {
        using var dir = new TempDir();
        ulong memberId;
        ulong persistedIndex;
        {
            var target = new FileKvTarget(dir.Sub("kv"));
            using RaftNodeHost host = await StartLeaderAsync(Options(dir), target);
            memberId = host.MemberId;
            for (int i = 1; i <= 5; i++) await host.ProposeAsync(Put($"k{i}", $"v{i}"));
            target.Persist(); // The backend's last durable commit: k1..k5.
            persistedIndex = target.CurrentConsistentIndex;
            for (int i = 6; i <= 10; i++) await host.ProposeAsync(Put($"k{i}", $"v{i}"));
        } // Disposed without a graceful stop: the target never persisted k6..k10.

        var restarted = new FileKvTarget(dir.Sub("kv"));
        Assert.Equal(persistedIndex, restarted.ConsistentIndex);
        Assert.Null(restarted.Get("k6"));
        using (RaftNodeHost host = await StartLeaderAsync(Options(dir) with { InitialCluster = null }, restarted))
        {
            Assert.Equal(memberId, host.MemberId); // From the WAL metadata.
            await host.WaitLinearizableAsync();

            for (int i = 1; i <= 10; i++) Assert.Equal($"v{i}", restarted.Get($"k{i}"));
            // Only entries after the consistent index reached the target, each once: a revision per put.
            Assert.All(restarted.AppliedIndexes, index => Assert.True(index > persistedIndex));
            Assert.Equal(restarted.AppliedIndexes.Distinct(), restarted.AppliedIndexes);
            Assert.Equal(10, restarted.Revision);
            Assert.Equal(11, RevisionOf(await host.ProposeAsync(Put("k11", "v11"))));
            Assert.Equal([memberId], host.ConfState.Voters); // The bootstrap conf change was replayed into raft.
        }
    }

    [Fact]
    public async Task KilledMemberLosesNothingItAcknowledged()
    {
        using var dir = new TempDir();
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<string>();
        {
            var target = new FileKvTarget(dir.Sub("kv"));
            RaftNodeHost host = await StartLeaderAsync(Options(dir), target);
            using var stopWriting = new CancellationTokenSource();
            Task[] writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                for (int i = 0; !stopWriting.IsCancellationRequested; i++)
                {
                    string key = $"w{w}/{i}";
                    try
                    {
                        await host.ProposeAsync(Put(key, key));
                        acknowledged.Add(key);
                    }
                    catch (EtcdServerException)
                    {
                        return; // Stopped under our feet: not acknowledged.
                    }
                }
            })).ToArray();

            await Eventually(() => acknowledged.Count >= 300, "300 writes are acknowledged");
            host.Dispose(); // The kill: no graceful stop, and the target never persisted anything.
            stopWriting.Cancel();
            await Task.WhenAll(writers).WaitAsync(Patience);
            Assert.Equal(0UL, new FileKvTarget(dir.Sub("kv")).ConsistentIndex);
        }

        var restarted = new FileKvTarget(dir.Sub("kv"));
        using RaftNodeHost again = await StartLeaderAsync(Options(dir) with { InitialCluster = null }, restarted);
        await again.WaitLinearizableAsync();
        string[] missing = acknowledged.Where(key => restarted.Get(key) != key).ToArray();
        Assert.Empty(missing);
    }

    [Fact]
    public async Task GracefulStopAppliesWhatWasCommittedAndSyncsTheBackend()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        RaftNodeHost host = await StartLeaderAsync(Options(dir), target);
        for (int i = 0; i < 20; i++) await host.ProposeAsync(Put($"k{i}", "v"));

        // Ten more are committed but wait behind a slow apply when the stop comes.
        target.Gate.Reset();
        Task<ApplyResult>[] committed = Enumerable.Range(20, 10).Select(i => host.ProposeAsync(Put($"k{i}", "v"))).ToArray();
        await Eventually(() => host.CommittedIndex >= host.AppliedIndex + 10, "the ten are committed");
        Task stop = host.StopAsync();
        target.Gate.Set();
        await stop.WaitAsync(Patience);
        await host.Completion.WaitAsync(Patience);

        long[] revisions = (await Task.WhenAll(committed)).Select(RevisionOf).ToArray();
        Assert.Equal(Enumerable.Range(21, 10).Select(r => (long)r), revisions);
        Assert.True(target.SyncCount >= 1);
        var reloaded = new FileKvTarget(dir.Sub("kv"));
        Assert.Equal(host.AppliedIndex, reloaded.ConsistentIndex);
        Assert.Equal(30, reloaded.Count);
        var late = await Assert.ThrowsAsync<EtcdServerException>(() => host.ProposeAsync(Put("late", "v")));
        Assert.Equal("etcdserver: server stopped", late.Message);
    }

    [Fact]
    public async Task SnapshotCountTriggersSnapshotsThatReleaseWalSegments()
    {
        using var dir = new TempDir();
        var target = new FileKvTarget(dir.Sub("kv"));
        // 4 KiB segments and ~1 KiB entries: each snapshot (every 50 entries) frees several segments.
        RaftNodeOptions options = Options(dir, snapshotCount: 50, catchUpEntries: 10, segmentBytes: 4096);
        string value = new('x', 1000);
        using (RaftNodeHost host = await StartLeaderAsync(options, target))
        {
            for (int i = 0; i < 300; i++) await host.ProposeAsync(Put($"k{i}", value));
            await Eventually(() => host.Metrics.SnapshotsSaved >= 5, "five snapshots are saved");

            // etcd's rule: a snapshot once applied - last snapshot > snapshot-count, and the backend
            // is made durable first, because the WAL before a snapshot goes away.
            Assert.True(target.SyncCount >= 5);
            Assert.NotEmpty(Directory.GetFiles(options.Log.SnapDir, "*.snap"));
            int segments = Directory.GetFiles(options.Log.WalDir, "*.wal").Length;
            Assert.True(segments < 40, $"{segments} WAL segments are left for 300 KiB of entries in 4 KiB segments");
        }

        // The snapshot and the WAL after it restore the member; the backend holds the rest.
        var restarted = new FileKvTarget(dir.Sub("kv"));
        using RaftNodeHost again = await StartLeaderAsync(options with { InitialCluster = null }, restarted);
        await again.WaitLinearizableAsync();
        Assert.Equal(300, restarted.Count);
        Assert.Equal(301, RevisionOf(await again.ProposeAsync(Put("after", "v"))));
    }
}
