using Dotcd.Api.Mvccpb;
using Google.Protobuf;

namespace Dotcd.Mvcc.Tests;

/// <summary>A store in a fresh temporary directory, removed on dispose.</summary>
internal sealed class TestStore : IDisposable
{
    public string Directory { get; }
    public string DbPath => System.IO.Path.Combine(Directory, "db");
    public MvccStore Store { get; private set; }
    private readonly MvccOptions _options;

    public TestStore(MvccOptions? options = null)
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "dotcd-mvcc-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        _options = options ?? new MvccOptions { BackgroundCompaction = false };
        Store = MvccStore.Open(DbPath, _options);
    }

    public void Reopen()
    {
        Store.Dispose();
        Store = MvccStore.Open(DbPath, _options);
    }

    public long Put(string key, string value, long lease = 0) => Store.Put(B(key), B(value), lease);

    public (long Deleted, long Revision) Delete(string key, string? end = null) =>
        Store.DeleteRange(end is null ? KeyRange.Single(M(key)) : KeyRange.Between(M(key), M(end)));

    /// <summary>Writes keys k0000.. of 4000 bytes each, then deletes all but k0000-k0099 and
    /// compacts, leaving most of the file free for a defragment to give back.</summary>
    public void FillThenFreeAllButTheFirstHundred(int keys)
    {
        string big = new('v', 4000);
        using (MvccStore.WriteBatch b = Store.BeginBatch())
        {
            for (int i = 0; i < keys; i++)
            {
                using WriteTxn txn = b.BeginWrite();
                txn.Put(B($"k{i:D4}"), B(big));
            }
            b.Commit();
        }
        Store.DeleteRange(KeyRange.Between(M("k0100"), M("k9")));
        Store.Compact(Store.CurrentRevision);
        Store.FinishCompaction();
    }

    public RangeResult Get(string key, long rev = 0) => Store.Range(KeyRange.Single(M(key)), new RangeOptions(Revision: rev));

    public RangeResult Prefix(string prefix, long rev = 0, long limit = 0) =>
        Store.Range(KeyRange.Between(M(prefix), M(PrefixEnd(prefix))), new RangeOptions(limit, rev));

    public void Dispose()
    {
        Store.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static ByteString B(string s) => ByteString.CopyFromUtf8(s);
    public static ReadOnlyMemory<byte> M(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    public static string PrefixEnd(string prefix)
    {
        char[] c = prefix.ToCharArray();
        c[^1]++;
        return new string(c);
    }

    public static string Describe(KeyValue kv) =>
        $"{kv.Key.ToStringUtf8()}={kv.Value.ToStringUtf8()} c{kv.CreateRevision} m{kv.ModRevision} v{kv.Version} l{kv.Lease}";
}
