using SQLitePCL;

namespace Dotcd.Mvcc.Backend;

/// <summary>One SQLite connection on the raw API: prepared statements, spans in and out, no
/// per-row allocations. Used by one thread at a time.</summary>
internal sealed class SqliteDb : IDisposable
{
    private static readonly object s_initLock = new();
    private static bool s_initialized;

    private readonly sqlite3 _db;
    private readonly List<SqliteStatement> _statements = [];
    private bool _disposed;

    public string Path { get; }

    private SqliteDb(sqlite3 db, string path)
    {
        _db = db;
        Path = path;
    }

    public sqlite3 Handle => _db;

    public static SqliteDb Open(string path, bool readOnly = false)
    {
        EnsureInitialized();
        int flags = readOnly
            ? raw.SQLITE_OPEN_READONLY
            : raw.SQLITE_OPEN_READWRITE | raw.SQLITE_OPEN_CREATE;
        flags |= raw.SQLITE_OPEN_NOMUTEX;
        int rc = raw.sqlite3_open_v2(path, out sqlite3 db, flags, null);
        if (rc != raw.SQLITE_OK)
        {
            string message = db is null ? $"code {rc}" : raw.sqlite3_errmsg(db).utf8_to_string();
            db?.Dispose();
            throw new SqliteFailureException($"open {path}: {message}", rc);
        }
        var result = new SqliteDb(db, path);
        raw.sqlite3_busy_timeout(db, 10_000);
        return result;
    }

    private static void EnsureInitialized()
    {
        lock (s_initLock)
        {
            if (!s_initialized)
            {
                Batteries_V2.Init();
                s_initialized = true;
            }
        }
    }

    /// <summary>Prepares a statement that lives as long as the connection.</summary>
    public SqliteStatement Prepare(string sql)
    {
        var statement = new SqliteStatement(this, sql);
        _statements.Add(statement);
        return statement;
    }

    /// <summary>Runs SQL that returns no rows we need (DDL, pragmas that set).</summary>
    public void Execute(string sql)
    {
        int rc = raw.sqlite3_exec(_db, sql, null, null, out string? error);
        if (rc != raw.SQLITE_OK)
        {
            throw new SqliteFailureException($"{sql}: {error ?? ErrorMessage}", rc);
        }
    }

    /// <summary>Runs a one-row, one-column integer query (pragmas that read).</summary>
    public long QueryInt64(string sql)
    {
        int rc = raw.sqlite3_prepare_v2(_db, sql, out sqlite3_stmt stmt);
        Check(rc, sql);
        using (stmt)
        {
            rc = raw.sqlite3_step(stmt);
            if (rc == raw.SQLITE_ROW)
            {
                return raw.sqlite3_column_int64(stmt, 0);
            }
            if (rc == raw.SQLITE_DONE)
            {
                return 0;
            }
            Check(rc, sql);
            return 0;
        }
    }

    public string QueryText(string sql)
    {
        int rc = raw.sqlite3_prepare_v2(_db, sql, out sqlite3_stmt stmt);
        Check(rc, sql);
        using (stmt)
        {
            rc = raw.sqlite3_step(stmt);
            if (rc == raw.SQLITE_ROW)
            {
                return raw.sqlite3_column_text(stmt, 0).utf8_to_string();
            }
            Check(rc == raw.SQLITE_DONE ? raw.SQLITE_OK : rc, sql);
            return "";
        }
    }

    internal string ErrorMessage => raw.sqlite3_errmsg(_db).utf8_to_string();

    internal void Check(int rc, string what)
    {
        if (rc != raw.SQLITE_OK && rc != raw.SQLITE_ROW && rc != raw.SQLITE_DONE)
        {
            throw new SqliteFailureException($"{what}: {ErrorMessage}", rc);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        foreach (SqliteStatement s in _statements)
        {
            s.Dispose();
        }
        _statements.Clear();
        raw.sqlite3_close_v2(_db);
        _db.Dispose();
    }
}

/// <summary>A prepared statement: bind, step, read columns as spans, reset.</summary>
internal sealed class SqliteStatement : IDisposable
{
    private readonly SqliteDb _db;
    private readonly sqlite3_stmt _stmt;
    private readonly string _sql;

    internal SqliteStatement(SqliteDb db, string sql)
    {
        _db = db;
        _sql = sql;
        int rc = raw.sqlite3_prepare_v3(db.Handle, sql, raw.SQLITE_PREPARE_PERSISTENT, out _stmt);
        db.Check(rc, sql);
    }

    public void Bind(int index, ReadOnlySpan<byte> blob)
    {
        int rc = blob.Length == 0
            ? raw.sqlite3_bind_zeroblob(_stmt, index, 0)
            : raw.sqlite3_bind_blob(_stmt, index, blob);
        _db.Check(rc, _sql);
    }

    public void Bind(int index, long value) => _db.Check(raw.sqlite3_bind_int64(_stmt, index, value), _sql);

    public void Bind(int index, string text) => _db.Check(raw.sqlite3_bind_text(_stmt, index, text), _sql);

    /// <summary>True when a row is ready, false when done.</summary>
    public bool Step()
    {
        int rc = raw.sqlite3_step(_stmt);
        if (rc == raw.SQLITE_ROW)
        {
            return true;
        }
        if (rc == raw.SQLITE_DONE)
        {
            return false;
        }
        string message = _db.ErrorMessage;
        raw.sqlite3_reset(_stmt);
        throw new SqliteFailureException($"{_sql}: {message}", rc);
    }

    /// <summary>Steps to completion and resets.</summary>
    public void Execute()
    {
        try
        {
            while (Step())
            {
            }
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>The column's bytes, valid until the next Step or Reset.</summary>
    public ReadOnlySpan<byte> Blob(int column) => raw.sqlite3_column_blob(_stmt, column);

    public long Int64(int column) => raw.sqlite3_column_int64(_stmt, column);

    public bool IsNull(int column) => raw.sqlite3_column_type(_stmt, column) == raw.SQLITE_NULL;

    public void Reset()
    {
        raw.sqlite3_reset(_stmt);
        raw.sqlite3_clear_bindings(_stmt);
    }

    public void Dispose() => _stmt.Dispose();
}

/// <summary>SQLite reported an error; the store cannot continue safely after one on the write path.</summary>
public sealed class SqliteFailureException(string message, int code) : IOException(message)
{
    public int Code { get; } = code;
}
