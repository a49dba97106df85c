using System.Buffers;

namespace Dotcd.Storage.WalFiles;

/// <summary>A pooled, growable byte buffer: the records of one Save are encoded here and written in one call.</summary>
internal sealed class RecordBuffer : IDisposable
{
    private const int InitialBytes = 64 * 1024;
    private const int RetainBytes = 4 * 1024 * 1024; // A bigger buffer (a huge Ready) goes back to the pool after use.

    private byte[] _array = ArrayPool<byte>.Shared.Rent(InitialBytes);
    private int _length; // Invariant: 0 <= _length <= _array.Length.

    public int Length => _length;

    public ReadOnlySpan<byte> Written => _array.AsSpan(0, _length);

    /// <summary>Appends size bytes (uninitialized) and returns them.</summary>
    public Span<byte> Append(int size)
    {
        if (_array.Length - _length < size)
        {
            long wanted = Math.Max((long)_array.Length * 2, (long)_length + size);
            if (wanted > Array.MaxLength) throw new InvalidOperationException($"a WAL batch of {(long)_length + size} bytes is too large");
            byte[] bigger = ArrayPool<byte>.Shared.Rent((int)wanted);
            _array.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_array);
            _array = bigger;
        }
        Span<byte> span = _array.AsSpan(_length, size);
        _length += size;
        return span;
    }

    public void Reset()
    {
        _length = 0;
        if (_array.Length > RetainBytes)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = ArrayPool<byte>.Shared.Rent(InitialBytes);
        }
    }

    public void Dispose()
    {
        if (_array.Length == 0) return;
        ArrayPool<byte>.Shared.Return(_array);
        _array = [];
        _length = 0;
    }
}
