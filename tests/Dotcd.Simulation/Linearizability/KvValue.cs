using System.Globalization;

namespace Dotcd.Simulation.Linearizability;

/// <summary>A key's value in the key-value model: absent, a number or a string. Numbers and strings
/// never compare equal, so a simulation uses one kind per key.</summary>
public readonly struct KvValue : IEquatable<KvValue>
{
    private readonly string? _text;   // set when _kind is Text, or Unread from a string
    private readonly long _number;    // meaningful when _kind is Number, or Unread from a number
    private readonly Kind _kind;      // default(KvValue) is Absent

    private KvValue(Kind kind, long number, string? text)
    {
        _kind = kind;
        _number = number;
        _text = text;
    }

    /// <summary>No value: the key does not exist.</summary>
    public static KvValue Absent => default;

    /// <summary>True unless <see cref="Absent"/>.</summary>
    public bool Exists => _kind != Kind.Absent;

    /// <summary>True for a value <see cref="KvModel.Partition"/> merged because no call read or
    /// expected it.</summary>
    public bool IsUnread => _kind == Kind.Unread;

    // The same value marked unread: equal to every other unread value, and still printed as itself.
    internal KvValue AsUnread() => _kind is Kind.Number or Kind.Text ? new(Kind.Unread, _number, _text) : this;

    public static implicit operator KvValue(long number) => new(Kind.Number, number, null);

    /// <summary>A string value; null converts to <see cref="Absent"/>.</summary>
    public static implicit operator KvValue(string? text) => text is null ? Absent : new(Kind.Text, 0, text);

    public static bool operator ==(KvValue a, KvValue b) => a.Equals(b);

    public static bool operator !=(KvValue a, KvValue b) => !a.Equals(b);

    public bool Equals(KvValue other) =>
        _kind == other._kind
        && (_kind == Kind.Unread
            || (_number == other._number && string.Equals(_text, other._text, StringComparison.Ordinal)));

    public override bool Equals(object? obj) => obj is KvValue other && Equals(other);

    public override int GetHashCode() => _kind switch
    {
        Kind.Absent => 0,
        Kind.Number => _number.GetHashCode(),
        Kind.Text => StringComparer.Ordinal.GetHashCode(_text!),
        _ => 0x2545F491,
    };

    public override string ToString() => _kind switch
    {
        Kind.Absent => "<absent>",
        Kind.Number => _number.ToString(CultureInfo.InvariantCulture),
        Kind.Text => "\"" + _text + "\"",
        _ => (_text is null ? _number.ToString(CultureInfo.InvariantCulture) : "\"" + _text + "\"") + " (never read)",
    };

    private enum Kind : byte
    {
        Absent,
        Number,
        Text,
        // A written value no call on its key read or expected. The model can only ask whether it
        // exists, so all such values behave as one; merging them lets the search's memo see equal
        // states and its twin rule see equal calls.
        Unread,
    }
}
