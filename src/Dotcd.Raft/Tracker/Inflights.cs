namespace Dotcd.Raft.Tracker;

/// <summary>
/// The last indexes of the MsgApp messages sent to one follower and not yet acknowledged, oldest
/// first, bounded by a window size. The leader stops sending when the window is full.
/// </summary>
internal sealed class Inflights
{
    // Ring buffer: the live entries are _buffer[_start], _buffer[(_start+1) % _size], ... (_count of them).
    // The buffer grows by doubling on demand up to _size, so idle followers cost little memory.
    // Invariant: 0 <= _count <= _size; _start < _size; entries are ascending.
    private int _start;
    private int _count;
    private readonly int _size;
    private ulong[] _buffer;

    public Inflights(int size)
    {
        if (size < 0) throw new ArgumentOutOfRangeException(nameof(size), size, "inflight window size must not be negative");
        _size = size;
        _buffer = Array.Empty<ulong>();
    }

    private Inflights(Inflights other)
    {
        _start = other._start;
        _count = other._count;
        _size = other._size;
        _buffer = (ulong[])other._buffer.Clone();
    }

    /// <summary>The window size: the most messages in flight.</summary>
    public int Size => _size;

    public int Count => _count;

    public bool Full => _count == _size;

    /// <summary>Records a message whose last entry is at index; indexes must be added in ascending order.</summary>
    public void Add(ulong index)
    {
        if (Full) throw new InvalidOperationException("cannot add into a full inflights");
        int next = _start + _count;
        if (next >= _size)
        {
            next -= _size;
        }
        if (next >= _buffer.Length)
        {
            Grow();
        }
        _buffer[next] = index;
        _count++;
    }

    // Doubles the buffer (at most to _size). Only called when the ring has not wrapped past the
    // end of the current buffer, so a plain copy keeps the positions valid.
    private void Grow()
    {
        int newSize = _buffer.Length == 0 ? 1 : Math.Min(_buffer.Length * 2, _size);
        var newBuffer = new ulong[newSize];
        _buffer.CopyTo(newBuffer, 0);
        _buffer = newBuffer;
    }

    /// <summary>Frees every inflight message whose index is at or below to.</summary>
    public void FreeLE(ulong to)
    {
        if (_count == 0 || to < _buffer[_start])
        {
            return;
        }

        int idx = _start;
        int freed;
        for (freed = 0; freed < _count; freed++)
        {
            if (to < _buffer[idx])
            {
                break;
            }
            if (++idx >= _size)
            {
                idx -= _size;
            }
        }
        _count -= freed;
        _start = _count == 0 ? 0 : idx;
    }

    /// <summary>Frees the oldest inflight message (a heartbeat response proves the follower is reachable).</summary>
    public void FreeFirstOne()
    {
        if (_count == 0)
        {
            return;
        }
        FreeLE(_buffer[_start]);
    }

    /// <summary>The inflight indexes, oldest first.</summary>
    public ulong[] ToArray()
    {
        var result = new ulong[_count];
        for (int i = 0, idx = _start; i < _count; i++)
        {
            result[i] = _buffer[idx];
            if (++idx >= _size)
            {
                idx -= _size;
            }
        }
        return result;
    }

    public void Reset()
    {
        _count = 0;
        _start = 0;
    }

    public Inflights Clone() => new(this);
}
