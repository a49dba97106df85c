namespace Dotcd.Storage;

/// <summary>Severity of a storage log line.</summary>
public enum StorageLogLevel
{
    Info = 0,
    Warn = 1,
    Error = 2,
}

/// <summary>Where the storage layer reports what it did (a new segment, a repaired tail, a broken snapshot file).</summary>
/// <remarks>Fields are key/value pairs in the style of etcd's zap logs, e.g. ("path", "/x/0-0.wal").</remarks>
public interface IStorageLog
{
    void Write(StorageLogLevel level, string message, params ReadOnlySpan<(string Key, object? Value)> fields);
}

/// <summary>Ready-made loggers.</summary>
public static class StorageLog
{
    /// <summary>Drops every line.</summary>
    public static IStorageLog None { get; } = new NoneLog();

    private sealed class NoneLog : IStorageLog
    {
        public void Write(StorageLogLevel level, string message, params ReadOnlySpan<(string Key, object? Value)> fields)
        {
        }
    }
}
