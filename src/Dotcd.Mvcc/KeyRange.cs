namespace Dotcd.Mvcc;

/// <summary>Which keys a range covers: one key, every key from a start, or [start, end).</summary>
public readonly struct KeyRange
{
    public ReadOnlyMemory<byte> Key { get; }
    public ReadOnlyMemory<byte> End { get; }   // Meaningful only when Kind is Bounded.
    public KeyRangeKind Kind { get; }

    private KeyRange(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> end, KeyRangeKind kind)
    {
        Key = key;
        End = end;
        Kind = kind;
    }

    public static KeyRange Single(ReadOnlyMemory<byte> key) => new(key, default, KeyRangeKind.Single);

    /// <summary>Every key at or above key.</summary>
    public static KeyRange From(ReadOnlyMemory<byte> key) => new(key, default, KeyRangeKind.Unbounded);

    /// <summary>Keys in [key, end); empty when end &lt;= key.</summary>
    public static KeyRange Between(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> end) => new(key, end, KeyRangeKind.Bounded);

    /// <summary>etcd's range_end rules: empty = just key, "\0" = every key >= key, else [key, range_end).</summary>
    public static KeyRange FromEtcd(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte> rangeEnd)
    {
        if (rangeEnd.Length == 0)
        {
            return Single(key);
        }
        if (rangeEnd.Length == 1 && rangeEnd.Span[0] == 0)
        {
            return From(key);
        }
        return Between(key, rangeEnd);
    }

    /// <summary>True when key falls inside the range.</summary>
    public bool Contains(ReadOnlySpan<byte> key)
    {
        int c = key.SequenceCompareTo(Key.Span);
        return Kind switch
        {
            KeyRangeKind.Single => c == 0,
            KeyRangeKind.Unbounded => c >= 0,
            _ => c >= 0 && key.SequenceCompareTo(End.Span) < 0,
        };
    }

    /// <summary>True when a key at or above key is past the range (scans stop there).</summary>
    internal bool IsPastEnd(ReadOnlySpan<byte> key) => Kind switch
    {
        KeyRangeKind.Single => key.SequenceCompareTo(Key.Span) > 0,
        KeyRangeKind.Unbounded => false,
        _ => key.SequenceCompareTo(End.Span) >= 0,
    };
}

public enum KeyRangeKind
{
    Single,
    Unbounded,
    Bounded,
}
