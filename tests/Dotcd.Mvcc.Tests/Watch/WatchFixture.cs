using Dotcd.Api.Mvccpb;
using Dotcd.Mvcc.Watch;
using Google.Protobuf;

namespace Dotcd.Mvcc.Tests.Watch;

/// <summary>A store with a watchable store on it; writes publish their changes as the apply loop does.</summary>
internal sealed class WatchFixture : IDisposable
{
    private readonly TestStore _store;

    public WatchFixture(WatchableStoreOptions? options = null)
    {
        _store = new TestStore();
        Watchable = new WatchableStore(_store.Store, options ?? new WatchableStoreOptions { SyncRetryInterval = TimeSpan.FromMilliseconds(10) });
    }

    public WatchableStore Watchable { get; }

    public MvccStore Store => _store.Store;

    public long Put(string key, string value) => Write(txn => txn.Put(B(key), B(value)));

    public long Delete(string key, string? end = null) =>
        Write(txn => txn.DeleteRange(end is null ? KeyRange.Single(M(key)) : KeyRange.Between(M(key), M(end))).Revision);

    /// <summary>Several ops in one revision (one write txn).</summary>
    public long Txn(params (string Key, string? Value)[] ops) => Write(txn =>
    {
        long rev = 0;
        foreach ((string key, string? value) in ops)
        {
            rev = value is null ? txn.DeleteRange(KeyRange.Single(M(key))).Revision : txn.Put(B(key), B(value));
        }
        return rev;
    });

    public void Compact(long revision)
    {
        using MvccStore.WriteBatch batch = Store.BeginBatch();
        Assert.Equal(MvccStatus.Ok, batch.Compact(revision).Status);
        Watchable.Publish(batch.Commit());
        Store.FinishCompaction();
    }

    private long Write(Func<WriteTxn, long> write)
    {
        using MvccStore.WriteBatch batch = Store.BeginBatch();
        long rev;
        using (WriteTxn txn = batch.BeginWrite())
        {
            rev = write(txn);
        }
        Watchable.Publish(batch.Commit());
        return rev;
    }

    public void Dispose()
    {
        Watchable.Dispose();
        _store.Dispose();
    }

    public static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    public static ReadOnlyMemory<byte> M(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    public static byte[] Bytes(string s) => System.Text.Encoding.UTF8.GetBytes(s);
}

/// <summary>Reads a stream's queue the way the gRPC sender does and renders each response as text.</summary>
internal sealed class StreamReader(WatchableStore watchable, WatchStream stream)
{
    public WatchStream Stream => stream;

    /// <summary>Reads until the predicate holds over everything read so far, or fails after the timeout.</summary>
    public List<string> ReadUntil(Func<List<string>, bool> done, int timeoutMs = 5000)
    {
        var lines = new List<string>();
        DateTime deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!done(lines))
        {
            if (stream.TryRead(out WatchOutput output))
            {
                lines.AddRange(Render(output));
                continue;
            }
            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail("timed out; read so far:\n" + string.Join("\n", lines));
            }
            try
            {
                stream.WaitToReadAsync(CancellationToken.None).AsTask().Wait(left);
            }
            catch (AggregateException)
            {
            }
        }
        return lines;
    }

    public List<string> ReadCount(int count, int timeoutMs = 5000) => ReadUntil(l => l.Count >= count, timeoutMs);

    /// <summary>The events of one watcher in the lines read, one string each, in order.</summary>
    public static List<string> EventsOf(IEnumerable<string> lines, long watchId) =>
        [.. lines.Where(l => l.StartsWith($"w{watchId} @", StringComparison.Ordinal))
            .SelectMany(l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..].Split(' ', 2)[1].Split("; "))];

    /// <summary>Everything queued now, after giving the catch-up loop a moment.</summary>
    public List<string> ReadAvailable(int settleMs = 100)
    {
        Thread.Sleep(settleMs);
        var lines = new List<string>();
        while (stream.TryRead(out WatchOutput output))
        {
            lines.AddRange(Render(output));
        }
        return lines;
    }

    // One line per response: "w<id> <kind>@<rev>" and for events "w<id> @<rev> PUT k=v c m v [prev k=v]; ...".
    public IEnumerable<string> Render(WatchOutput output)
    {
        switch (output.Kind)
        {
            case WatchOutputKind.Events:
                for (int i = 0; i < output.Watchers!.Length; i++)
                {
                    Watcher w = output.Watchers[i];
                    var events = new List<string>();
                    foreach (RevisionEvents revision in output.RevisionsFor(i))
                    {
                        if (w.WantsPrevKv)
                        {
                            revision.LoadPrevious(watchable.Store);
                        }
                        events.AddRange(revision.Events.Where(w.Matches)
                            .Select(e => Describe(Event.Parser.ParseFrom(w.WantsPrevKv ? e.EncodedWithPrevKv : e.Encoded))));
                    }
                    yield return $"w{w.Id} @{output.Revision} {string.Join("; ", events)}";
                }
                break;
            case WatchOutputKind.Compacted:
                yield return $"w{output.WatchId} compacted {output.CompactRevision}";
                break;
            case WatchOutputKind.CreateFailed:
                yield return $"create failed @{output.Revision}: {output.Reason}";
                break;
            default:
                yield return $"w{output.WatchId} {output.Kind.ToString().ToLowerInvariant()} @{output.Revision}";
                break;
        }
    }

    public static string Describe(Event e)
    {
        string kv = e.Type == Event.Types.EventType.Delete
            ? $"DELETE {e.Kv.Key.ToStringUtf8()}"
            : $"PUT {e.Kv.Key.ToStringUtf8()}={e.Kv.Value.ToStringUtf8()} c{e.Kv.CreateRevision} v{e.Kv.Version}";
        return e.PrevKv is null ? kv : $"{kv} prev {e.PrevKv.Key.ToStringUtf8()}={e.PrevKv.Value.ToStringUtf8()}";
    }
}
