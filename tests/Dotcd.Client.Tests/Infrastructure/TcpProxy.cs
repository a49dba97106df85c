using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Dotcd.Client.Tests;

/// <summary>What a <see cref="TcpProxy"/> does to the connections it accepts.</summary>
public enum ProxyMode
{
    /// <summary>
    /// Forwards the client's bytes to the server and the server's HTTP/2 frames back, until the
    /// server starts a response (its first HEADERS frame on a stream): then it drops both
    /// connections. The request was delivered and handled; the client never hears the answer.
    /// </summary>
    DropBeforeResponse,

    /// <summary>Accepts and reads, never answers: a server that hangs.</summary>
    BlackHole,
}

/// <summary>A loopback TCP proxy in front of one server, for failures no real server produces on demand.</summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private const byte HeadersFrame = 0x1;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly ProxyMode _mode;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _acceptLoop;
    private int _droppedResponses;
    private int _connections;

    public TcpProxy(int targetPort, ProxyMode mode)
    {
        _targetPort = targetPort;
        _mode = mode;
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Responses withheld by <see cref="ProxyMode.DropBeforeResponse"/>.</summary>
    public int DroppedResponses => Volatile.Read(ref _droppedResponses);

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptSocketAsync(_stop.Token);
                Track(client);
                Interlocked.Increment(ref _connections);
                _ = _mode == ProxyMode.BlackHole ? SwallowAsync(client) : ForwardAsync(client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private void Track(Socket socket)
    {
        lock (_sockets)
        {
            _sockets.Add(socket);
        }
    }

    private async Task SwallowAsync(Socket client)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            while (await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Track(server);
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            Task upstream = CopyAsync(client, server);
            Task downstream = CopyFramesUntilResponseAsync(server, client);
            await Task.WhenAny(upstream, downstream);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
        }
        finally
        {
            client.Close(); // Both directions go at once: no RST_STREAM or GOAWAY tells the client anything.
            server.Close();
        }
    }

    private async Task CopyAsync(Socket from, Socket to)
    {
        byte[] buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    // HTTP/2 frame: [length: u24 big-endian][type: u8][flags: u8][R: 1 bit, stream id: u31 big-endian][payload: length bytes]
    private async Task CopyFramesUntilResponseAsync(Socket from, Socket to)
    {
        byte[] header = new byte[9];
        try
        {
            while (true)
            {
                if (!await ReceiveExactlyAsync(from, header))
                {
                    return;
                }

                int length = (header[0] << 16) | (header[1] << 8) | header[2];
                uint streamId = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(5)) & 0x7fffffff;
                if (header[3] == HeadersFrame && streamId != 0)
                {
                    Interlocked.Increment(ref _droppedResponses);
                    return;
                }

                byte[] payload = new byte[length];
                if (!await ReceiveExactlyAsync(from, payload))
                {
                    return;
                }

                await to.SendAsync(header, SocketFlags.None, _stop.Token);
                await to.SendAsync(payload, SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task<bool> ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, _stop.Token);
            if (read == 0)
            {
                return false;
            }

            filled += read;
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_sockets)
        {
            _sockets.ForEach(socket => socket.Dispose());
        }

        await _acceptLoop;
        _stop.Dispose();
    }
}
