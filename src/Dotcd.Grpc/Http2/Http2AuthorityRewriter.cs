using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Dotcd.Grpc;

/// <summary>
/// Sits between the socket and Kestrel's HTTP/2 connection and repairs request :authority values
/// Kestrel would reset the stream for (PROTOCOL_ERROR "Invalid Host header"). grpc-go accepts any
/// value, and etcd clients send invalid ones: clientv3 3.4 dials single endpoints (etcdctl
/// endpoint status, the Status/HashKV/Defragment/MoveLeader calls) with
/// ":authority: http://127.0.0.1:2379", and clientv3 3.5.0 to 3.5.9 sends "#initially=[...]" on
/// every call (the Kubernetes API server of 1.22 to 1.28). Kestrel has no switch to relax this.
/// </summary>
/// <remarks>
/// Frames pass through unchanged, except a header block holding a bad value: it is re-emitted with
/// each bad string literal replaced by a plain literal of the same decoded length ('x's). Same
/// length means the same dynamic-table entry size, so the client's HPACK table and Kestrel's stay
/// in step and later blocks that index the entry pass unchanged. Anything unexpected (malformed
/// HPACK, an oversized frame) switches the connection to plain pass-through; Kestrel then judges.
/// </remarks>
internal sealed class Http2AuthorityRewriter
{
    // RFC 9113 section 4.1: frame = [length: u24][type: u8][flags: u8][R + stream id: u32][payload]
    private const int FrameHeaderLength = 9;
    private const int PrefaceLength = 24;
    private const byte TypeHeaders = 0x1;
    private const byte TypeContinuation = 0x9;
    private const byte FlagEndStream = 0x1;
    private const byte FlagEndHeaders = 0x4;
    private const byte FlagPadded = 0x8;
    private const byte FlagPriority = 0x20;

    private readonly PipeReader _source;
    private readonly PipeWriter _sink;
    private readonly int _maxFrameBytes;
    private readonly HpackAuthorityScanner _scanner;
    private readonly List<HpackAuthorityScanner.Patch> _patches = [];

    // An open header block (HEADERS without END_HEADERS, then CONTINUATIONs): its fragments and
    // its raw frames, forwarded verbatim unless a patch is needed.
    private readonly PooledBufferWriter _block = new();
    private readonly PooledBufferWriter _blockFrames = new();
    private bool _blockOpen;
    private uint _blockStreamId;
    private byte _blockFlags;
    private readonly byte[] _blockPriority = new byte[5];

    private int _prefaceRemaining = PrefaceLength;
    private bool _passThrough;

    private Http2AuthorityRewriter(PipeReader source, PipeWriter sink, int maxFrameBytes, int headerTableBytes)
    {
        _source = source;
        _sink = sink;
        _maxFrameBytes = maxFrameBytes;
        _scanner = new HpackAuthorityScanner(headerTableBytes);
    }

    /// <summary>Runs <paramref name="next"/> (Kestrel's HTTP/2 pipeline) behind a rewriter.</summary>
    public static async Task RunAsync(ConnectionContext connection, ConnectionDelegate next, int maxFrameBytes, int headerTableBytes)
    {
        IDuplexPipe socket = connection.Transport;
        MemoryPool<byte>? pool = connection.Features.Get<IMemoryPoolFeature>()?.MemoryPool;
        var inner = new Pipe(new PipeOptions(
            pool: pool,
            readerScheduler: PipeScheduler.Inline, // Kestrel's frame loop runs as soon as bytes are forwarded.
            writerScheduler: PipeScheduler.ThreadPool,
            pauseWriterThreshold: 1024 * 1024,    // Kestrel's own MaxRequestBufferSize.
            resumeWriterThreshold: 512 * 1024,
            useSynchronizationContext: false));
        var rewriter = new Http2AuthorityRewriter(socket.Input, inner.Writer, maxFrameBytes, headerTableBytes);
        connection.Transport = new DuplexPipe(inner.Reader, socket.Output);
        Task pump = rewriter.PumpAsync();
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            socket.Input.CancelPendingRead(); // Wake the pump if it waits on a connection Kestrel is done with.
            await pump.ConfigureAwait(false);
            connection.Transport = socket;
        }
    }

    private async Task PumpAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult read = await _source.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                if (read.IsCanceled)
                {
                    break;
                }

                ProcessFrames(ref buffer);
                _source.AdvanceTo(buffer.Start, buffer.End);
                FlushResult flush = await _sink.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || read.IsCompleted)
                {
                    break; // Kestrel stopped reading, or the client closed its side.
                }
            }
        }
        catch (Exception e)
        {
            error = e; // A reset connection: Kestrel sees the same error on its input.
        }
        finally
        {
            _block.Dispose();
            _blockFrames.Dispose();
        }

        await _sink.CompleteAsync(error).ConfigureAwait(false);
        await _source.CompleteAsync().ConfigureAwait(false);
    }

    private void ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        if (_prefaceRemaining > 0)
        {
            int take = (int)Math.Min(_prefaceRemaining, buffer.Length);
            Forward(buffer.Slice(0, take));
            buffer = buffer.Slice(take);
            _prefaceRemaining -= take;
        }

        Span<byte> header = stackalloc byte[FrameHeaderLength];
        while (!_passThrough && buffer.Length >= FrameHeaderLength)
        {
            buffer.Slice(0, FrameHeaderLength).CopyTo(header);
            int length = (header[0] << 16) | (header[1] << 8) | header[2];
            byte type = header[3];
            byte flags = header[4];
            uint streamId = BinaryPrimitives.ReadUInt32BigEndian(header[5..]) & 0x7FFF_FFFF;
            if (length > _maxFrameBytes)
            {
                GiveUp(); // Kestrel will answer FRAME_SIZE_ERROR; nothing for us to repair.
                break;
            }

            if (buffer.Length < FrameHeaderLength + length)
            {
                return; // Wait for the whole frame.
            }

            ReadOnlySequence<byte> frame = buffer.Slice(0, FrameHeaderLength + length);
            buffer = buffer.Slice(frame.End);
            if (_blockOpen)
            {
                if (type != TypeContinuation || streamId != _blockStreamId)
                {
                    Forward(_blockFrames.WrittenSpan);
                    Forward(frame);
                    GiveUp(); // A protocol error: Kestrel will close the connection.
                    break;
                }

                Append(_blockFrames, frame);
                Append(_block, frame.Slice(FrameHeaderLength));
                if ((flags & FlagEndHeaders) != 0)
                {
                    EndBlock();
                }
            }
            else if (type == TypeHeaders)
            {
                if (!StartBlock(frame, length, flags, streamId))
                {
                    Forward(frame);
                    GiveUp();
                    break;
                }
            }
            else
            {
                Forward(frame);
            }
        }

        if (_passThrough)
        {
            Forward(buffer);
            buffer = buffer.Slice(buffer.End);
        }
    }

    private bool StartBlock(ReadOnlySequence<byte> frame, int length, byte flags, uint streamId)
    {
        ReadOnlySequence<byte> payload = frame.Slice(FrameHeaderLength);
        int offset = 0;
        int padding = 0;
        if ((flags & FlagPadded) != 0)
        {
            if (length < 1)
            {
                return false;
            }

            padding = payload.FirstSpan[0];
            offset = 1;
        }

        if ((flags & FlagPriority) != 0)
        {
            if (length < offset + 5)
            {
                return false;
            }

            payload.Slice(offset, 5).CopyTo(_blockPriority);
            offset += 5;
        }

        if (length - offset - padding < 0)
        {
            return false;
        }

        _blockOpen = true;
        _blockStreamId = streamId;
        _blockFlags = flags;
        _block.Reset();
        _blockFrames.Reset();
        Append(_blockFrames, frame);
        Append(_block, payload.Slice(offset, length - offset - padding));
        if ((flags & FlagEndHeaders) != 0)
        {
            EndBlock();
        }

        return true;
    }

    private void EndBlock()
    {
        _blockOpen = false;
        _patches.Clear();
        ReadOnlySpan<byte> block = _block.WrittenSpan;
        if (!_scanner.TryScan(block, _patches))
        {
            Forward(_blockFrames.WrittenSpan);
            GiveUp(); // Not HPACK we understand; Kestrel will send COMPRESSION_ERROR if it agrees.
            return;
        }

        if (_patches.Count == 0)
        {
            Forward(_blockFrames.WrittenSpan); // The common case: untouched.
        }
        else
        {
            WritePatchedBlock(block);
        }

        _block.Reset();
        _blockFrames.Reset();
    }

    private void WritePatchedBlock(ReadOnlySpan<byte> block)
    {
        var patched = new PooledBufferWriter();
        try
        {
            int copied = 0;
            foreach (HpackAuthorityScanner.Patch patch in _patches)
            {
                patched.Write(block[copied..patch.Start]);
                WritePlainStringLiteral(patched, patch.DecodedLength);
                copied = patch.End;
            }

            patched.Write(block[copied..]);
            WriteHeaderFrames(patched.WrittenSpan);
        }
        finally
        {
            patched.Dispose();
        }
    }

    // A string literal without Huffman coding: [H=0 | length: 7-bit prefix integer][bytes]
    private static void WritePlainStringLiteral(PooledBufferWriter output, int length)
    {
        Span<byte> prefix = stackalloc byte[6];
        int used = 0;
        if (length < 0x7F)
        {
            prefix[used++] = (byte)length;
        }
        else
        {
            prefix[used++] = 0x7F;
            int rest = length - 0x7F;
            while (rest >= 0x80)
            {
                prefix[used++] = (byte)((rest & 0x7F) | 0x80);
                rest >>= 7;
            }

            prefix[used++] = (byte)rest;
        }

        output.Write(prefix[..used]);
        output.GetSpan(length)[..length].Fill((byte)'x');
        output.Advance(length);
    }

    private void WriteHeaderFrames(ReadOnlySpan<byte> block)
    {
        bool priority = (_blockFlags & FlagPriority) != 0;
        bool first = true;
        do
        {
            int room = _maxFrameBytes - (first && priority ? 5 : 0);
            int take = Math.Min(room, block.Length);
            bool last = take == block.Length;
            byte flags = first ? (byte)(_blockFlags & (FlagEndStream | FlagPriority)) : (byte)0;
            if (last)
            {
                flags |= FlagEndHeaders;
            }

            int payloadLength = take + (first && priority ? 5 : 0);
            Span<byte> header = _sink.GetSpan(FrameHeaderLength);
            header[0] = (byte)(payloadLength >> 16);
            header[1] = (byte)(payloadLength >> 8);
            header[2] = (byte)payloadLength;
            header[3] = first ? TypeHeaders : TypeContinuation;
            header[4] = flags;
            BinaryPrimitives.WriteUInt32BigEndian(header[5..], _blockStreamId);
            _sink.Advance(FrameHeaderLength);
            if (first && priority)
            {
                _sink.Write(_blockPriority);
            }

            _sink.Write(block[..take]);
            block = block[take..];
            first = false;
        }
        while (!block.IsEmpty);
    }

    private void GiveUp()
    {
        _passThrough = true;
        _blockOpen = false;
    }

    private void Forward(ReadOnlySpan<byte> bytes) => _sink.Write(bytes);

    private void Forward(ReadOnlySequence<byte> bytes)
    {
        foreach (ReadOnlyMemory<byte> segment in bytes)
        {
            _sink.Write(segment.Span);
        }
    }

    private static void Append(PooledBufferWriter writer, ReadOnlySequence<byte> bytes)
    {
        foreach (ReadOnlyMemory<byte> segment in bytes)
        {
            writer.Write(segment.Span);
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
