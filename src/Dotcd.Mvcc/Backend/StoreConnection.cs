namespace Dotcd.Mvcc.Backend;

/// <summary>A SQLite connection with the store's statements prepared once.</summary>
/// <remarks>Reader connections use only the read statements; write statements prepare lazily
/// on the writer connection.</remarks>
internal sealed class StoreConnection : IDisposable
{
    public readonly SqliteDb Db;

    public readonly SqliteStatement Begin;
    public readonly SqliteStatement Commit;
    public readonly SqliteStatement Rollback;
    public readonly SqliteStatement Touch;          // Starts the read snapshot inside BEGIN.
    public readonly SqliteStatement GetByRevision;  // ?1 = revision key (17 bytes or 18 with tombstone mark)
    public readonly SqliteStatement ScanLatest;     // ?1 <= k <= ?2, ascending
    public readonly SqliteStatement ScanKeyRows;    // ?1 <= k < ?2 in "key", ascending
    private readonly SqliteStatement?[] _bucketGet = new SqliteStatement?[Buckets.All.Length];
    private readonly SqliteStatement?[] _bucketScan = new SqliteStatement?[Buckets.All.Length];
    private readonly SqliteStatement?[] _bucketPut = new SqliteStatement?[Buckets.All.Length];
    private readonly SqliteStatement?[] _bucketDelete = new SqliteStatement?[Buckets.All.Length];
    private SqliteStatement? _upsertLatest;
    private SqliteStatement? _deleteLatest;
    private SqliteStatement? _pageCount;
    private SqliteStatement? _freelistCount;

    public StoreConnection(SqliteDb db)
    {
        Db = db;
        Begin = db.Prepare("BEGIN");
        Commit = db.Prepare("COMMIT");
        Rollback = db.Prepare("ROLLBACK");
        Touch = db.Prepare("SELECT count(*) FROM meta WHERE k = x'00'");
        GetByRevision = db.Prepare("SELECT v FROM \"key\" WHERE k = ?1");
        ScanLatest = db.Prepare($"SELECT k, main, sub, v FROM {Buckets.LatestTable} WHERE k >= ?1 AND k <= ?2 ORDER BY k");
        ScanKeyRows = db.Prepare("SELECT k, v FROM \"key\" WHERE k >= ?1 AND k < ?2 ORDER BY k");
    }

    public SqliteStatement BucketGet(Bucket b) =>
        _bucketGet[(int)b] ??= Db.Prepare($"SELECT v FROM \"{Buckets.Name(b)}\" WHERE k = ?1");

    public SqliteStatement BucketScan(Bucket b) =>
        _bucketScan[(int)b] ??= Db.Prepare($"SELECT k, v FROM \"{Buckets.Name(b)}\" ORDER BY k");

    public SqliteStatement BucketPut(Bucket b) =>
        _bucketPut[(int)b] ??= Db.Prepare(
            $"INSERT INTO \"{Buckets.Name(b)}\" (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v");

    public SqliteStatement BucketDelete(Bucket b) =>
        _bucketDelete[(int)b] ??= Db.Prepare($"DELETE FROM \"{Buckets.Name(b)}\" WHERE k = ?1");

    public SqliteStatement UpsertLatest => _upsertLatest ??= Db.Prepare(
        $"INSERT INTO {Buckets.LatestTable} (k, main, sub, v) VALUES (?1, ?2, ?3, ?4) " +
        "ON CONFLICT(k) DO UPDATE SET main = excluded.main, sub = excluded.sub, v = excluded.v");

    public SqliteStatement DeleteLatest => _deleteLatest ??= Db.Prepare($"DELETE FROM {Buckets.LatestTable} WHERE k = ?1");

    public SqliteStatement PageCount => _pageCount ??= Db.Prepare("PRAGMA page_count");

    public SqliteStatement FreelistCount => _freelistCount ??= Db.Prepare("PRAGMA freelist_count");

    /// <summary>Opens a read transaction and pins its snapshot now (SQLite defers it to the first read).</summary>
    public void BeginSnapshot()
    {
        Begin.Execute();
        Touch.Execute();
    }

    public void EndSnapshot() => Commit.Execute();

    public byte[]? Get(Bucket bucket, ReadOnlySpan<byte> key)
    {
        SqliteStatement s = BucketGet(bucket);
        try
        {
            s.Bind(1, key);
            return s.Step() ? s.Blob(0).ToArray() : null;
        }
        finally
        {
            s.Reset();
        }
    }

    public void Put(Bucket bucket, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        SqliteStatement s = BucketPut(bucket);
        s.Bind(1, key);
        s.Bind(2, value);
        s.Execute();
    }

    public void Delete(Bucket bucket, ReadOnlySpan<byte> key)
    {
        SqliteStatement s = BucketDelete(bucket);
        s.Bind(1, key);
        s.Execute();
    }

    public long ReadPragma(SqliteStatement s)
    {
        try
        {
            return s.Step() ? s.Int64(0) : 0;
        }
        finally
        {
            s.Reset();
        }
    }

    public void Dispose() => Db.Dispose();
}
