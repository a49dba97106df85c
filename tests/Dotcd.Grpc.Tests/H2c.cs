using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Dotcd.Grpc.Tests;

/// <summary>
/// A hand-driven HTTP/2 cleartext client, for requests no real client library will send
/// (grpc-go's invalid :authority values) and for checks at the frame level.
/// </summary>
public sealed class H2c : IAsyncDisposable
{
    public const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7;
    private const byte EndStream = 0x1, EndHeaders = 0x4, Ack = 0x1;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;

    private H2c(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    public static async Task<H2c> ConnectAsync(IPEndPoint endpoint)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint);
        var client = new H2c(tcp);
        await client._stream.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray());
        await client.WriteFrameAsync(Settings, 0, 0, []);
        return client;
    }

    /// <summary>
    /// An HPACK block (no Huffman) for a gRPC POST, the way grpc-go indexes it: :path, :authority
    /// and content-type become dynamic entries 64, 63 and 62.
    /// </summary>
    public static byte[] RequestBlock(string path, string authority)
    {
        var block = new List<byte> { 0x83, 0x86 }; // :method POST, :scheme http
        AddLiteral(block, 0x44, path);              // :path, incremental indexing
        AddLiteral(block, 0x41, authority);         // :authority, incremental indexing
        AddLiteral(block, 0x5F, "application/grpc"); // content-type, incremental indexing
        block.AddRange([0x00, 0x02, .. "te"u8.ToArray(), 0x08, .. "trailers"u8.ToArray()]);
        return block.ToArray();
    }

    /// <summary>The same request again, all from the dynamic table (as grpc-go's second call is).</summary>
    public static byte[] IndexedRequestBlock() =>
        [0x83, 0x86, 0xC0, 0xBF, 0xBE, 0x00, 0x02, .. "te"u8.ToArray(), 0x08, .. "trailers"u8.ToArray()];

    private static void AddLiteral(List<byte> block, byte prefix, string value)
    {
        block.Add(prefix);
        block.Add(checked((byte)value.Length));
        block.AddRange(Encoding.ASCII.GetBytes(value));
    }

    public async Task SendRequestAsync(uint streamId, byte[] headerBlock, byte[] body)
    {
        await WriteFrameAsync(Headers, EndHeaders, streamId, headerBlock);
        await WriteFrameAsync(Data, EndStream, streamId, body);
    }

    /// <summary>Sends the header block padded and split over HEADERS and CONTINUATION frames.</summary>
    public async Task SendSplitRequestAsync(uint streamId, byte[] headerBlock, byte[] body)
    {
        const byte Padded = 0x8, Continuation = 0x9;
        int half = headerBlock.Length / 2;
        byte[] first = [3, .. headerBlock[..half], 0, 0, 0]; // Pad length 3, fragment, padding.
        await WriteFrameAsync(Headers, Padded, streamId, first);
        await WriteFrameAsync(Continuation, EndHeaders, streamId, headerBlock[half..]);
        await WriteFrameAsync(Data, EndStream, streamId, body);
    }

    /// <summary>Reads frames until the stream ends; returns its DATA bytes, or null when it was reset.</summary>
    public async Task<byte[]?> ReadResponseAsync(uint streamId, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var data = new List<byte>();
        while (true)
        {
            (byte type, byte flags, uint stream, byte[] payload) = await ReadFrameAsync(cancel.Token);
            if (type == Settings && (flags & Ack) == 0)
            {
                await WriteFrameAsync(Settings, Ack, 0, []);
            }
            else if (type == Ping && (flags & Ack) == 0)
            {
                await WriteFrameAsync(Ping, Ack, 0, payload);
            }
            else if (type == GoAway)
            {
                return null;
            }
            else if (stream == streamId)
            {
                if (type == RstStream)
                {
                    return null;
                }

                if (type == Data)
                {
                    data.AddRange(payload);
                }

                if ((type == Data || type == Headers) && (flags & EndStream) != 0)
                {
                    return data.ToArray();
                }
            }
        }
    }

    public async Task WriteFrameAsync(byte type, byte flags, uint streamId, byte[] payload)
    {
        byte[] frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        await _stream.WriteAsync(frame);
    }

    private async Task<(byte Type, byte Flags, uint Stream, byte[] Payload)> ReadFrameAsync(CancellationToken cancellationToken)
    {
        byte[] header = new byte[9];
        await _stream.ReadExactlyAsync(header, cancellationToken);
        int length = (header[0] << 16) | (header[1] << 8) | header[2];
        byte[] payload = new byte[length];
        await _stream.ReadExactlyAsync(payload, cancellationToken);
        return (header[3], header[4], BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(5)) & 0x7FFFFFFF, payload);
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return default;
    }
}
