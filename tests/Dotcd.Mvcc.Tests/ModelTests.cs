using Dotcd.Api.Mvccpb;
using static Dotcd.Mvcc.Tests.TestStore;

namespace Dotcd.Mvcc.Tests;

/// <summary>Random operations against the store and a plain in-memory model of etcd's semantics.</summary>
public sealed class ModelTests
{
    private sealed record Entry(string Value, long Create, long Mod, long Version, long Lease);

    private sealed class Model
    {
        // State after each revision; copied on write (small key space).
        public readonly Dictionary<long, SortedDictionary<string, Entry>> States = new() { [1] = new(StringComparer.Ordinal) };
        public long Current = 1;
        public long Compacted = -1;

        public SortedDictionary<string, Entry> Now => States[Current];
    }

    public static TheoryData<int> Seeds => [1, 2, 3];

    [Theory, MemberData(nameof(Seeds))]
    public void StoreMatchesTheModel(int seed)
    {
        var random = new Random(seed);
        using var t = new TestStore(new MvccOptions { BackgroundCompaction = false, CompactionBatchLimit = 7 });
        var model = new Model();
        string[] keys = Enumerable.Range(0, 30).Select(i => (i % 3 == 0 ? "a/" : i % 3 == 1 ? "b/" : "c") + i.ToString("D2")).ToArray();
        string RandomKey() => keys[random.Next(keys.Length)];

        for (int op = 0; op < 2000; op++)
        {
            int dice = random.Next(100);
            if (dice < 35)
            {
                WriteTxnOp(t, model, random, RandomKey);
            }
            else if (dice < 75)
            {
                CheckRange(t, model, random, RandomKey);
            }
            else if (dice < 80)
            {
                long target = random.NextInt64(model.Compacted - 1, model.Current + 2);
                CompactResult result = t.Store.Compact(target);
                MvccStatus expected = target <= model.Compacted ? MvccStatus.Compacted
                    : target > model.Current ? MvccStatus.FutureRevision : MvccStatus.Ok;
                Assert.Equal(expected, result.Status);
                if (expected == MvccStatus.Ok)
                {
                    model.Compacted = target;
                }
            }
            else if (dice < 90)
            {
                t.Store.RunCompactionStep();
            }
            else if (dice < 91)
            {
                HashKvResult before = t.Store.HashKV(0);
                t.Store.VerifyConsistency();
                t.Reopen();
                t.Store.VerifyConsistency();
                Assert.Equal(before, t.Store.HashKV(0));
                Assert.Equal(model.Current, t.Store.CurrentRevision);
                Assert.Equal(model.Compacted, t.Store.CompactRevision);
            }
            else
            {
                CheckHistory(t, model, random);
            }
        }
        t.Store.FinishCompaction();
        t.Store.VerifyConsistency();
        for (long rev = Math.Max(model.Compacted, 1); rev <= model.Current; rev++)
        {
            AssertSame(model.States[rev], t.Store.Range(KeyRange.From(new byte[] { 0 }), new RangeOptions(Revision: rev)));
        }
    }

    private static void WriteTxnOp(TestStore t, Model model, Random random, Func<string> randomKey)
    {
        long rev = model.Current + 1;
        var next = new SortedDictionary<string, Entry>(model.Now, StringComparer.Ordinal);
        bool changed = false;
        using (MvccStore.WriteBatch batch = t.Store.BeginBatch())
        {
            int txns = random.Next(1, 3);
            for (int n = 0; n < txns; n++)
            {
                rev = model.Current + 1;
                next = new SortedDictionary<string, Entry>(model.Now, StringComparer.Ordinal);
                changed = false;
                using (WriteTxn txn = batch.BeginWrite())
                {
                    // etcd's apply rejects a txn that puts a key twice or puts and deletes it.
                    var touched = new HashSet<string>(StringComparer.Ordinal);
                    var deletedRanges = new List<KeyRange>();
                    int ops = random.Next(1, 4);
                    for (int i = 0; i < ops; i++)
                    {
                        if (random.Next(4) == 0)
                        {
                            string from = randomKey();
                            string to = random.Next(3) == 0 ? from + "\0" : randomKey();
                            var range = KeyRange.Between(M(from), M(to));
                            if (touched.Any(k => range.Contains(System.Text.Encoding.UTF8.GetBytes(k))))
                            {
                                continue;
                            }
                            deletedRanges.Add(range);
                            var victims = next.Keys.Where(k => string.CompareOrdinal(k, from) >= 0 && string.CompareOrdinal(k, to) < 0).ToList();
                            (long deleted, long r) = txn.DeleteRange(KeyRange.Between(M(from), M(to)));
                            Assert.Equal(victims.Count, deleted);
                            foreach (string v in victims)
                            {
                                next.Remove(v);
                            }
                            changed |= victims.Count > 0;
                            Assert.Equal(changed ? rev : rev - 1, r);
                        }
                        else
                        {
                            string key = randomKey();
                            byte[] keyBytes = System.Text.Encoding.UTF8.GetBytes(key);
                            if (!touched.Add(key) || deletedRanges.Any(d => d.Contains(keyBytes)))
                            {
                                continue;
                            }
                            string value = $"v{random.Next(1000)}";
                            long lease = random.Next(3);
                            Assert.Equal(rev, txn.Put(B(key), B(value), lease));
                            next[key] = next.TryGetValue(key, out Entry? old)
                                ? new Entry(value, old.Create, rev, old.Version + 1, lease)
                                : new Entry(value, rev, rev, 1, lease);
                            changed = true;
                        }
                        if (random.Next(3) == 0)
                        {
                            string probe = randomKey();
                            RangeResult inside = txn.Range(KeyRange.Single(M(probe)));
                            Assert.Equal(next.ContainsKey(probe) ? 1 : 0, inside.Count);
                        }
                    }
                }
                if (changed)
                {
                    model.Current = rev;
                    model.States[rev] = next;
                }
            }
            batch.Commit();
        }
    }

    private static void CheckRange(TestStore t, Model model, Random random, Func<string> randomKey)
    {
        long rev = random.Next(4) == 0 ? 0 : random.NextInt64(Math.Max(1, model.Compacted - 2), model.Current + 2);
        string from = randomKey();
        string? to = random.Next(3) switch { 0 => null, 1 => randomKey(), _ => "\0" };
        KeyRange range = to switch
        {
            null => KeyRange.Single(M(from)),
            "\0" => KeyRange.From(M(from)),
            _ => KeyRange.Between(M(from), M(to)),
        };
        long limit = random.Next(3) == 0 ? random.Next(1, 5) : 0;
        RangeResult result = t.Store.Range(range, new RangeOptions(limit, rev));
        if (rev > model.Current)
        {
            Assert.Equal(MvccStatus.FutureRevision, result.Status);
            return;
        }
        if (rev > 0 && rev < model.Compacted)
        {
            Assert.Equal(MvccStatus.Compacted, result.Status);
            return;
        }
        Assert.Equal(MvccStatus.Ok, result.Status);
        Assert.Equal(model.Current, result.Revision);
        SortedDictionary<string, Entry> state = model.States[rev <= 0 ? model.Current : rev];
        var expected = state.Where(kv => range.Contains(System.Text.Encoding.UTF8.GetBytes(kv.Key))).ToList();
        Assert.Equal(expected.Count, result.Count);
        var shown = limit > 0 ? expected.Take((int)limit).ToList() : expected;
        Assert.Equal(shown.Select(kv => Show(kv.Key, kv.Value)), result.Kvs.Select(Describe));
    }

    private static void CheckHistory(TestStore t, Model model, Random random)
    {
        long from = random.NextInt64(Math.Max(2, model.Compacted), model.Current + 1);
        using ReadTxn r = t.Store.BeginRead();
        var changes = new List<MvccChange>();
        MvccStatus status = r.ReadChanges(from, model.Current, changes);
        if (from < model.Compacted)
        {
            Assert.Equal(MvccStatus.Compacted, status);
            return;
        }
        Assert.Equal(MvccStatus.Ok, status);
        var expected = new List<string>();
        for (long rev = Math.Max(from, model.Compacted + 1); rev <= model.Current; rev++)
        {
            // Every revision has a state: each changing txn advances the revision by exactly one.
            SortedDictionary<string, Entry> after = model.States[rev];
            SortedDictionary<string, Entry> before = model.States[rev - 1];
            // Order within a revision is op order; compare as sets per revision.
            foreach (var kv in after.Where(kv => kv.Value.Mod == rev))
            {
                expected.Add($"{rev} PUT {Show(kv.Key, kv.Value)}");
            }
            foreach (string gone in before.Keys.Where(k => !after.ContainsKey(k) || (after[k].Create == rev && before.ContainsKey(k))))
            {
                expected.Add($"{rev} DELETE {gone}");
            }
        }
        var actual = changes.Where(c => c.Kv.ModRevision > model.Compacted)
            .Select(c => c.IsDelete ? $"{c.Kv.ModRevision} DELETE {c.Kv.Key.ToStringUtf8()}" : $"{c.Kv.ModRevision} PUT {Describe(c.Kv)}").ToList();
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
    }

    private static string Show(string key, Entry e) => $"{key}={e.Value} c{e.Create} m{e.Mod} v{e.Version} l{e.Lease}";

    private static void AssertSame(SortedDictionary<string, Entry> expected, RangeResult actual)
    {
        Assert.Equal(expected.Select(kv => Show(kv.Key, kv.Value)), actual.Kvs.Select(Describe));
    }
}
