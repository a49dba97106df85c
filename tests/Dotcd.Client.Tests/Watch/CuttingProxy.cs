using System.Net;
using System.Net.Sockets;

namespace Dotcd.Client.Tests;

/// <summary>
/// A loopback TCP proxy in front of one server that forwards both ways until told to cut: then
/// every open connection drops at once (no GOAWAY, no RST_STREAM: the client just loses the
/// socket), and while blocked, new connections are closed as soon as they arrive.
/// </summary>
public sealed class CuttingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _open = [];
    private readonly Task _acceptLoop;
    private volatile bool _blocked;
    private int _connections;

    public CuttingProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Connections forwarded so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Drops every open connection; with <paramref name="block"/>, refuses new ones until <see cref="Unblock"/>.</summary>
    public void Cut(bool block = false)
    {
        _blocked |= block;
        lock (_open)
        {
            _open.ForEach(socket => socket.Dispose());
            _open.Clear();
        }
    }

    public void Unblock() => _blocked = false;

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                Socket client = await _listener.AcceptSocketAsync(_stop.Token);
                if (_blocked)
                {
                    client.Dispose();
                    continue;
                }

                Interlocked.Increment(ref _connections);
                _ = ForwardAsync(client);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lock (_open)
        {
            _open.Add(client);
            _open.Add(server);
        }

        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            await Task.WhenAny(CopyAsync(client, server), CopyAsync(server, client));
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            client.Dispose();
            server.Dispose();
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

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        Cut();
        await _acceptLoop;
        _stop.Dispose();
    }
}
