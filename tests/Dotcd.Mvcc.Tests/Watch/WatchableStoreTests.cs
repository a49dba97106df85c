using Dotcd.Mvcc.Watch;
using static Dotcd.Mvcc.Tests.Watch.WatchFixture;

namespace Dotcd.Mvcc.Tests.Watch;

public sealed class WatchableStoreTests
{
    private static StreamReader Open(WatchFixture f) => new(f.Watchable, f.Watchable.OpenStream());

    [Fact]
    public void SingleKeyWatcherSeesItsKeyInRevisionOrder()
    {
        using var f = new WatchFixture();
        StreamReader s = Open(f);
        Assert.Equal(WatchCreateResult.Created, s.Stream.Watch(0, Bytes("a"), default, 0, WatchOptions.None));
        f.Put("a", "1");
        f.Put("b", "1");
        f.Put("a", "2");
        f.Delete("a");
        Assert.Equal(
        [
            "w0 created @1",
            "w0 @2 PUT a=1 c2 v1",
            "w0 @4 PUT a=2 c2 v2",
            "w0 @5 DELETE a",
        ], s.ReadCount(4));
        Assert.Empty(s.ReadAvailable());
    }

    [Fact]
    public void PrefixAndFromKeyWatchersSeeOnlyTheirRanges()
    {
        using var f = new WatchFixture();
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("foo/"), Bytes("foo0"), 0, WatchOptions.None);    // prefix foo/
        s.Stream.Watch(0, Bytes("m"), [0], 0, WatchOptions.None);                 // every key >= m
        s.Stream.Watch(0, default, [0], 0, WatchOptions.None);                    // every key
        f.Put("foo/a", "1");
        f.Put("foo", "x");
        f.Put("zed", "z");
        // Watchers of one stream share a revision in no particular order: compare as a set.
        Assert.Equal(
        new[]
        {
            "w0 created @1", "w1 created @1", "w2 created @1",
            "w0 @2 PUT foo/a=1 c2 v1", "w2 @2 PUT foo/a=1 c2 v1",
            "w2 @3 PUT foo=x c3 v1",
            "w1 @4 PUT zed=z c4 v1", "w2 @4 PUT zed=z c4 v1",
        }.Order(), s.ReadCount(8).Order());
    }

    [Fact]
    public void FiltersDropPutsOrDeletes()
    {
        using var f = new WatchFixture();
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, 0, WatchOptions.NoPut);
        s.Stream.Watch(0, Bytes("k"), default, 0, WatchOptions.NoDelete);
        f.Put("k", "1");
        f.Delete("k");
        Assert.Equal(["w0 created @1", "w1 created @1", "w1 @2 PUT k=1 c2 v1", "w0 @3 DELETE k"], s.ReadCount(4));
    }

    [Fact]
    public void PrevKvCarriesThePreviousValueExceptForCreates()
    {
        using var f = new WatchFixture();
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, 0, WatchOptions.PrevKv);
        f.Put("k", "1");
        f.Put("k", "2");
        f.Delete("k");
        Assert.Equal(
        [
            "w0 created @1",
            "w0 @2 PUT k=1 c2 v1",
            "w0 @3 PUT k=2 c2 v2 prev k=1",
            "w0 @4 DELETE k prev k=2",
        ], s.ReadCount(4));
    }

    [Fact]
    public void AllEventsOfOneRevisionTravelTogetherAndAreEncodedOnceForEveryone()
    {
        using var f = new WatchFixture();
        StreamReader s1 = Open(f);
        StreamReader s2 = Open(f);
        s1.Stream.Watch(0, Bytes("a"), Bytes("z"), 0, WatchOptions.None);
        s2.Stream.Watch(0, Bytes("a"), Bytes("z"), 0, WatchOptions.None);
        s2.Stream.Watch(0, Bytes("b"), default, 0, WatchOptions.None);
        f.Txn(("a", "1"), ("b", "2"), ("c", "3"));
        Assert.True(s1.Stream.TryRead(out _));                 // created
        Assert.True(s1.Stream.TryRead(out WatchOutput o1));
        Assert.True(s2.Stream.TryRead(out _));
        Assert.True(s2.Stream.TryRead(out _));
        Assert.True(s2.Stream.TryRead(out WatchOutput o2));
        Assert.Equal(WatchOutputKind.Events, o1.Kind);
        Assert.Same(o1.Events, o2.Events);                      // One encoding shared by both streams.
        Assert.Equal(3, o1.Events!.Events.Length);
        Assert.Equal(2, o2.Watchers!.Length);                   // One queue item per stream and revision.
        Assert.Equal(["w0 @2 PUT a=1 c2 v1; PUT b=2 c2 v1; PUT c=3 c2 v1"], s1.Render(o1));
        Assert.Equal(["w0 @2 PUT a=1 c2 v1; PUT b=2 c2 v1; PUT c=3 c2 v1", "w1 @2 PUT b=2 c2 v1"], s2.Render(o2));
    }

    [Fact]
    public void HistoricalWatchReplaysFromItsStartRevisionThenGoesLive()
    {
        using var f = new WatchFixture();
        f.Put("k", "1"); // 2
        f.Put("k", "2"); // 3
        f.Put("x", "1"); // 4
        f.Delete("k");   // 5
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, 3, WatchOptions.PrevKv);
        // History comes as one response up to the store's revision, as etcd's catch-up sends it.
        Assert.Equal(["w0 created @5", "w0 @5 PUT k=2 c2 v2 prev k=1; DELETE k prev k=2"], s.ReadCount(2));
        f.Put("k", "3");
        Assert.Equal(["w0 @6 PUT k=3 c6 v1"], s.ReadCount(1));
        Assert.Equal(0, f.Watchable.UnsyncedCount);
    }

    [Fact]
    public void FutureStartRevisionWaitsAndNeverDeliversOlderEvents()
    {
        using var f = new WatchFixture();
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, 4, WatchOptions.None);
        f.Put("k", "1"); // 2
        f.Put("k", "2"); // 3
        f.Put("k", "3"); // 4
        Assert.Equal(["w0 created @1", "w0 @4 PUT k=3 c2 v3"], s.ReadCount(2));
        Assert.Empty(s.ReadAvailable());
    }

    [Fact]
    public void WatchFromACompactedRevisionIsCreatedThenCanceledWithTheCompactRevision()
    {
        using var f = new WatchFixture();
        f.Put("k", "1"); // 2
        f.Put("k", "2"); // 3
        f.Put("k", "3"); // 4
        f.Compact(3);
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, 2, WatchOptions.None);
        s.Stream.Watch(0, Bytes("k"), default, -5, WatchOptions.None);
        s.Stream.Watch(0, Bytes("k"), default, 3, WatchOptions.None); // Reading at the compaction revision is allowed.
        List<string> lines = s.ReadCount(6);
        Assert.Equal(["w0 created @4", "w1 created @4", "w2 created @4"], lines.Take(3));
        Assert.Equal(["w0 compacted 3", "w1 compacted 3", "w2 @4 PUT k=2 c2 v2; PUT k=3 c2 v3"], lines.Skip(3).Order());
        Assert.Equal(1, s.Stream.WatcherCount);
    }

    [Fact]
    public void TombstoneAtTheCompactionRevisionIsStillDelivered()
    {
        using var f = new WatchFixture();
        f.Put("k", "1");           // 2
        f.Put("other", "1");       // 3
        long del = f.Delete("k");  // 4
        f.Compact(del);            // Physically finished too.
        Assert.Equal(1, f.Store.KeyRowCount() - 1);   // "other" and the kept tombstone.
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, del, WatchOptions.None);
        Assert.Equal(["w0 created @4", "w0 @4 DELETE k"], s.ReadCount(2));

        // The next compaction removes the kept tombstone: nobody can start there any more.
        f.Put("other", "2");
        f.Compact(5);
        Assert.Equal(1, f.Store.KeyRowCount());
        Assert.Equal(MvccStatus.Ok, f.Store.Range(KeyRange.Single(M("other"))).Status);
    }

    [Fact]
    public void TombstoneAtTheCompactionRevisionSurvivesAReopen()
    {
        var t = new TestStore();
        try
        {
            t.Put("k", "1");
            long del = t.Delete("k").Revision;
            t.Store.Compact(del);
            t.Store.FinishCompaction();
            t.Reopen();
            using ReadTxn r = t.Store.BeginRead();
            var changes = new List<MvccChange>();
            Assert.Equal(MvccStatus.Ok, r.ReadChanges(del, del, changes));
            Assert.Equal("DELETE k 3", string.Join(",", changes.Select(c => $"{(c.IsDelete ? "DELETE" : "PUT")} {c.Kv.Key.ToStringUtf8()} {c.Kv.ModRevision}")));
            Assert.Equal(0, t.Store.LiveKeyCount);
        }
        finally
        {
            t.Dispose();
        }
    }

    [Fact]
    public void SlowStreamIsMovedAsideAndCaughtUpWithoutLossWhileAFastStreamKeepsUp()
    {
        using var f = new WatchFixture(new WatchableStoreOptions { StreamBufferRevisions = 4, SyncRetryInterval = TimeSpan.FromMilliseconds(5), SyncBatchChanges = 7 });
        StreamReader slow = Open(f);
        StreamReader fast = Open(f);
        slow.Stream.Watch(0, Bytes("k"), default, 0, WatchOptions.PrevKv);
        slow.Stream.Watch(0, Bytes("a"), Bytes("z"), 0, WatchOptions.None);
        fast.Stream.Watch(0, Bytes("k"), default, 0, WatchOptions.None);
        var fastLines = new List<string>();
        for (int i = 1; i <= 60; i++)
        {
            f.Put("k", $"v{i}");
            fastLines.AddRange(fast.ReadCount(i == 1 ? 2 : 1));   // The fast reader drains as it goes.
        }
        Assert.Equal(61, fastLines.Count);
        Assert.True(f.Watchable.UnsyncedCount > 0);                // The slow stream's watchers were moved aside.

        List<string> lines = slow.ReadUntil(l => StreamReader.EventsOf(l, 0).Count >= 60 && StreamReader.EventsOf(l, 1).Count >= 60, timeoutMs: 20_000);
        Assert.Equal(Enumerable.Range(1, 60).Select(i => $"PUT k=v{i} c2 v{i}" + (i == 1 ? "" : $" prev k=v{i - 1}")), StreamReader.EventsOf(lines, 0));
        Assert.Equal(Enumerable.Range(1, 60).Select(i => $"PUT k=v{i} c2 v{i}"), StreamReader.EventsOf(lines, 1));
        Assert.Equal(0, f.Watchable.UnsyncedCount);
        f.Put("k", "last");
        Assert.Equal(2, slow.ReadCount(2).Count);
    }

    [Fact]
    public void ProgressRequestIsAnsweredOnlyOnceEveryWatcherIsSynced()
    {
        using var f = new WatchFixture(new WatchableStoreOptions { StreamBufferRevisions = 2, SyncRetryInterval = TimeSpan.FromMilliseconds(5) });
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, 0, WatchOptions.None);
        for (int i = 0; i < 10; i++)
        {
            f.Put("k", $"v{i}");
        }
        s.Stream.RequestProgress(); // The watcher is behind (its stream was full): the answer waits.
        List<string> lines = s.ReadUntil(l => l.Contains("w-1 progress @11"), timeoutMs: 10_000);
        Assert.Equal("w-1 progress @11", lines[^1]);  // After every event up to 11, never before.
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"PUT k=v{i} c2 v{i + 1}"), StreamReader.EventsOf(lines, 0));
    }

    [Fact]
    public void ProgressRequestIsNotAnsweredBelowAWatchersStartRevision()
    {
        using var f = new WatchFixture();
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("k"), default, 3, WatchOptions.None);
        s.Stream.RequestProgress();
        Assert.Equal(["w0 created @1"], s.ReadAvailable());
        f.Put("x", "1"); // 2: now a progress at 2 says nothing below the start revision 3.
        Assert.Equal(["w-1 progress @2"], s.ReadAvailable());
    }

    [Fact]
    public void ProgressNotifyReachesOnlyIdleSyncedWatchers()
    {
        using var f = new WatchFixture(new WatchableStoreOptions { ProgressNotifyInterval = TimeSpan.Zero });
        StreamReader s = Open(f);
        s.Stream.Watch(0, Bytes("busy"), default, 0, WatchOptions.ProgressNotify);
        s.Stream.Watch(0, Bytes("idle"), default, 0, WatchOptions.ProgressNotify);
        s.Stream.Watch(0, Bytes("quiet"), default, 0, WatchOptions.None);
        f.Put("busy", "1");
        Assert.Equal(4, s.ReadCount(4).Count);
        f.Watchable.NotifyProgress();
        Assert.Equal(["w1 progress @2"], s.ReadAvailable(0));
        f.Watchable.NotifyProgress();
        Assert.Equal(["w0 progress @2", "w1 progress @2"], s.ReadAvailable(0).Order());
    }

    [Fact]
    public void IdsAreChosenAsEtcdChoosesThemAndBadCreatesFailAsEtcd()
    {
        using var f = new WatchFixture();
        StreamReader s = Open(f);
        Assert.Equal(WatchCreateResult.Created, s.Stream.Watch(7, Bytes("a"), default, 0, WatchOptions.None));
        Assert.Equal(WatchCreateResult.DuplicateId, s.Stream.Watch(7, Bytes("a"), default, 0, WatchOptions.None));
        Assert.Equal(WatchCreateResult.EmptyRange, s.Stream.Watch(0, Bytes("b"), Bytes("a"), 0, WatchOptions.None));
        Assert.Equal(WatchCreateResult.EmptyRange, s.Stream.Watch(0, Bytes("b"), Bytes("b"), 0, WatchOptions.None));
        Assert.Equal(WatchCreateResult.Created, s.Stream.Watch(0, Bytes("a"), default, 0, WatchOptions.None));
        Assert.Equal(WatchCreateResult.Created, s.Stream.Watch(1, Bytes("a"), default, 0, WatchOptions.None));
        Assert.Equal(WatchCreateResult.Created, s.Stream.Watch(0, Bytes("a"), default, 0, WatchOptions.None));
        Assert.False(s.Stream.Cancel(99));
        Assert.True(s.Stream.Cancel(7));
        Assert.Equal(
        [
            "w7 created @1",
            "create failed @1: mvcc: duplicate watch ID provided on the WatchStream",
            "create failed @1: mvcc: watcher range is empty",
            "create failed @1: mvcc: watcher range is empty",
            "w0 created @1",
            "w1 created @1",
            "w2 created @1",
            "w7 canceled @1",
        ], s.ReadAvailable(0));
        f.Put("a", "1");
        Assert.Equal(["w0 @2 PUT a=1 c2 v1", "w1 @2 PUT a=1 c2 v1", "w2 @2 PUT a=1 c2 v1"], s.ReadAvailable(0).Order());
    }

    [Fact]
    public async Task ClosingAStreamRemovesItsWatchers()
    {
        using var f = new WatchFixture();
        WatchStream stream = f.Watchable.OpenStream();
        stream.Watch(0, Bytes("a"), default, 0, WatchOptions.None);
        stream.Watch(0, Bytes("a"), Bytes("b"), 1, WatchOptions.None);
        Assert.Equal(2, f.Watchable.WatcherCount);
        stream.Dispose();
        Assert.Equal(0, f.Watchable.WatcherCount);
        Assert.False(await stream.WaitToReadAsync(CancellationToken.None));
        f.Put("a", "1");
    }
}
