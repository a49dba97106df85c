namespace Dotcd.Logging;

/// <summary>
/// One key/value pair of a log line, like zap.Field. A value type, so building fields for a
/// disabled level allocates nothing; strings of lists and objects are made only when written.
/// </summary>
public readonly struct LogField
{
    internal enum FieldKind : byte
    {
        None = 0, // default(LogField): an unused optional argument, skipped when writing.
        String,
        Strings,
        Int64,
        UInt64,
        Double,
        Bool,
        Duration,
        Stringer,
    }

    private LogField(string key, FieldKind kind, long number, object? reference)
    {
        Key = key;
        Kind = kind;
        Number = number;
        Reference = reference;
    }

    /// <summary>The JSON key.</summary>
    public string Key { get; }

    internal FieldKind Kind { get; }

    internal long Number { get; } // Int64, UInt64 (bits), Double (bits), Bool (0/1), Duration (nanoseconds).

    internal object? Reference { get; } // String, Strings (IEnumerable<object?>), Stringer (object).

    internal bool IsEmpty => Kind == FieldKind.None;

    /// <summary>A string value.</summary>
    public static LogField String(string key, string? value) => new(key, FieldKind.String, 0, value);

    /// <summary>A JSON array of strings; each element is turned into text with ToString when the line is written.</summary>
    public static LogField Strings(string key, IEnumerable<object?> values) => new(key, FieldKind.Strings, 0, values);

    /// <summary>A signed integer.</summary>
    public static LogField Int64(string key, long value) => new(key, FieldKind.Int64, value, null);

    /// <summary>An unsigned integer.</summary>
    public static LogField UInt64(string key, ulong value) => new(key, FieldKind.UInt64, unchecked((long)value), null);

    /// <summary>A floating-point number (NaN and infinities are written as strings, as zap does).</summary>
    public static LogField Double(string key, double value) => new(key, FieldKind.Double, BitConverter.DoubleToInt64Bits(value), null);

    /// <summary>A boolean.</summary>
    public static LogField Bool(string key, bool value) => new(key, FieldKind.Bool, value ? 1 : 0, null);

    /// <summary>A duration written as Go writes it ("100ms", "1m30s"), as etcd's logs do.</summary>
    public static LogField Duration(string key, TimeSpan value) => new(key, FieldKind.Duration, GoDurationText.ToNanoseconds(value), null);

    /// <summary>Any object, written as the string its ToString returns when the line is written.</summary>
    public static LogField Stringer(string key, object? value) => new(key, FieldKind.Stringer, 0, value);

    /// <summary>zap.Error: the key "error" with the exception's message.</summary>
    public static LogField Error(Exception error) => new("error", FieldKind.String, 0, error.Message);

    /// <summary>zap.Error for an error that is already text.</summary>
    public static LogField Error(string message) => new("error", FieldKind.String, 0, message);
}
