namespace Dotcd.Storage;

/// <summary>The WAL cannot be opened or read as asked (no segment covers the snapshot, the snapshot marker is missing, ...).</summary>
public class WalException : IOException
{
    public WalException(string message) : base(message)
    {
    }

    public WalException(string message, Exception? inner) : base(message, inner)
    {
    }
}

/// <summary>
/// The WAL holds damage that is not a torn tail: repairing it would silently drop records that were
/// (or may have been) acknowledged, so the member must not start. An operator decides what to do.
/// </summary>
public sealed class WalCorruptException : WalException
{
    public WalCorruptException(string path, long offset, string reason)
        : base($"wal: corrupt record in {path} at offset {offset}: {reason}")
    {
        Path = path;
        Offset = offset;
        Reason = reason;
    }

    /// <summary>The segment file holding the damage.</summary>
    public string Path { get; }

    /// <summary>Byte offset of the first bad record in that file.</summary>
    public long Offset { get; }

    public string Reason { get; }
}
