using System.Collections;

namespace Dotcd.Grpc;

/// <summary>
/// gRPC metadata: an ordered list of lower-cased header names and values. Names ending in "-bin"
/// carry base64 of binary values, as the gRPC HTTP/2 spec says.
/// </summary>
public sealed class GrpcMetadata : IEnumerable<KeyValuePair<string, string>>
{
    /// <summary>An empty, read-only instance.</summary>
    public static readonly GrpcMetadata Empty = new(readOnly: true);

    private readonly List<KeyValuePair<string, string>> _entries = [];
    private readonly bool _readOnly;

    public GrpcMetadata()
    {
    }

    private GrpcMetadata(bool readOnly) => _readOnly = readOnly;

    public int Count => _entries.Count;

    /// <summary>Adds an entry; the name is lower-cased as HTTP/2 requires.</summary>
    public GrpcMetadata Add(string name, string value)
    {
        if (_readOnly)
        {
            throw new InvalidOperationException("This metadata instance is read-only.");
        }

        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        _entries.Add(new(name.ToLowerInvariant(), value));
        return this;
    }

    /// <summary>Adds a binary entry; the name must end in "-bin" and the value travels as base64.</summary>
    public GrpcMetadata AddBinary(string name, ReadOnlySpan<byte> value)
    {
        if (!name.EndsWith("-bin", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("Binary metadata names end in \"-bin\".", nameof(name));
        }

        return Add(name, Convert.ToBase64String(value));
    }

    /// <summary>The last value under a name (case-insensitive), or null.</summary>
    public string? Get(string name)
    {
        for (int i = _entries.Count - 1; i >= 0; i--)
        {
            if (string.Equals(_entries[i].Key, name, StringComparison.OrdinalIgnoreCase))
            {
                return _entries[i].Value;
            }
        }

        return null;
    }

    /// <summary>The last binary value under a "-bin" name, decoded from base64 (padding optional), or null.</summary>
    public byte[]? GetBinary(string name)
    {
        string? value = Get(name);
        return value is null ? null : GrpcHeaders.DecodeBinaryHeader(value);
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
