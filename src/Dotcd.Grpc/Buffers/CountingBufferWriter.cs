using System.Buffers;

namespace Dotcd.Grpc;

/// <summary>Forwards to another IBufferWriter and counts what was written, to check a promised length.</summary>
internal sealed class CountingBufferWriter : IBufferWriter<byte>
{
    private IBufferWriter<byte>? _inner;

    public long Written { get; private set; }

    public void Reset(IBufferWriter<byte> inner)
    {
        _inner = inner;
        Written = 0;
    }

    public void Advance(int count)
    {
        _inner!.Advance(count);
        Written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0) => _inner!.GetMemory(sizeHint);

    public Span<byte> GetSpan(int sizeHint = 0) => _inner!.GetSpan(sizeHint);
}
