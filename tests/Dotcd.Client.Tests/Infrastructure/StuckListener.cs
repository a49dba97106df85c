using System.Net;
using System.Net.Sockets;

namespace Dotcd.Client.Tests;

/// <summary>
/// A loopback port whose connects hang: a listener with a backlog of 0 that never accepts, its
/// accept queue filled up front, so Linux drops further SYNs and a dial can only time out.
/// </summary>
public sealed class StuckListener : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _fillers = [];

    private StuckListener(Socket listener) => _listener = listener;

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";

    public static StuckListener Create()
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var stuck = new StuckListener(listener);
        var target = (IPEndPoint)listener.LocalEndPoint!;
        for (int i = 0; i < 4; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            stuck._fillers.Add(filler);
            using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try
            {
                filler.ConnectAsync(target, wait.Token).AsTask().Wait();
            }
            catch (AggregateException)
            {
                break; // This connect hung: the queue is full.
            }
        }

        return stuck;
    }

    public void Dispose()
    {
        _fillers.ForEach(filler => filler.Dispose());
        _listener.Dispose();
    }
}
