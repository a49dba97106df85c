using System.Buffers;

namespace Dotcd.Grpc;

/// <summary>A growable IBufferWriter on ArrayPool memory, reused across messages of one call.</summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    // Beyond this, a buffer goes back to the pool after each message instead of being kept:
    // a long-lived watch stream should not pin a multi-megabyte buffer it needed once.
    private const int RetainedBytes = 64 * 1024;

    private byte[] _buffer = [];
    private int _written; // Invariant: 0 <= _written <= _buffer.Length.

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public int WrittenCount => _written;

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written))
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Reset()
    {
        _written = 0;
        if (_buffer.Length > RetainedBytes)
        {
            Return();
        }
    }

    public void Dispose()
    {
        _written = 0;
        Return();
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed)
        {
            return;
        }

        int size = Math.Max(checked(_written + needed), Math.Max(256, _buffer.Length * 2));
        byte[] larger = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(0, _written).CopyTo(larger);
        Return();
        _buffer = larger;
    }

    private void Return()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
    }
}
