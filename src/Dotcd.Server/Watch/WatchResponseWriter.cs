using Dotcd.Mvcc.Watch;

namespace Dotcd.Server.Watch;

/// <summary>
/// Composes etcdserverpb.WatchResponse bytes by hand around events that were encoded once for
/// everyone (<see cref="WatchEvent.Encoded"/>), so a revision fanned out to many watchers costs a
/// copy per watcher, not an encode.
/// </summary>
/// <remarks>
/// <code>
/// WatchResponse: header = 1 (ResponseHeader), watch_id = 2 (int64), created = 3, canceled = 4 (bool),
///                compact_revision = 5 (int64), cancel_reason = 6 (string), fragment = 7 (bool),
///                events = 11 (repeated mvccpb.Event)
/// field: [tag: varint (number &lt;&lt; 3 | wire type)][varint | length varint + bytes]
/// </code>
/// Fields go out in number order, as protobuf encoders write them; zero values are omitted.
/// One writer per stream; not thread-safe.
/// </remarks>
internal sealed class WatchResponseWriter
{
    private const byte HeaderTag = (1 << 3) | 2;
    private const byte WatchIdTag = 2 << 3;
    private const byte CreatedTag = 3 << 3;
    private const byte CanceledTag = 4 << 3;
    private const byte CompactRevisionTag = 5 << 3;
    private const byte CancelReasonTag = (6 << 3) | 2;
    private const byte FragmentTag = 7 << 3;
    private const byte EventTag = (11 << 3) | 2;

    private byte[] _buffer = new byte[4096];
    private int _length;

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public int Length => _length;

    public void Reset() => _length = 0;

    /// <summary>header and watch_id: the start of every response.</summary>
    public void Begin(ReadOnlySpan<byte> header, long watchId)
    {
        _length = 0;
        Ensure(header.Length + 32);
        _buffer[_length++] = HeaderTag;
        WriteVarint((ulong)header.Length);
        header.CopyTo(_buffer.AsSpan(_length));
        _length += header.Length;
        if (watchId != 0)
        {
            _buffer[_length++] = WatchIdTag;
            WriteVarint((ulong)watchId); // Negative int64 is ten varint bytes, as protobuf writes it.
        }
    }

    public void Flags(bool created, bool canceled, long compactRevision, string? cancelReason, bool fragment)
    {
        Ensure(32 + (cancelReason?.Length * 3 ?? 0));
        if (created)
        {
            _buffer[_length++] = CreatedTag;
            _buffer[_length++] = 1;
        }
        if (canceled)
        {
            _buffer[_length++] = CanceledTag;
            _buffer[_length++] = 1;
        }
        if (compactRevision != 0)
        {
            _buffer[_length++] = CompactRevisionTag;
            WriteVarint((ulong)compactRevision);
        }
        if (!string.IsNullOrEmpty(cancelReason))
        {
            int n = System.Text.Encoding.UTF8.GetByteCount(cancelReason);
            _buffer[_length++] = CancelReasonTag;
            WriteVarint((ulong)n);
            _length += System.Text.Encoding.UTF8.GetBytes(cancelReason, _buffer.AsSpan(_length));
        }
        if (fragment)
        {
            _buffer[_length++] = FragmentTag;
            _buffer[_length++] = 1;
        }
    }

    public void Event(ReadOnlySpan<byte> encodedEvent)
    {
        Ensure(encodedEvent.Length + 11);
        _buffer[_length++] = EventTag;
        WriteVarint((ulong)encodedEvent.Length);
        encodedEvent.CopyTo(_buffer.AsSpan(_length));
        _length += encodedEvent.Length;
    }

    /// <summary>Bytes one event adds to a response.</summary>
    public static int EventSize(int encodedLength) => 1 + VarintSize((ulong)encodedLength) + encodedLength;

    public static int VarintSize(ulong value)
    {
        int n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }

    private void WriteVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_length++] = (byte)value;
    }

    private void Ensure(int more)
    {
        if (_length + more > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_length + more, _buffer.Length * 2));
        }
    }
}
