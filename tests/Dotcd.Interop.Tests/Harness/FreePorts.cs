using System.Net;
using System.Net.Sockets;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>
/// Loopback ports for members. Three guards make a clash unlikely and recoverable:
/// ports come from below the kernel's ephemeral range (so an outgoing connection, such as
/// one of etcdctl's, never holds one by chance); each is test-bound before it is handed out
/// (so nothing listens there now); and this process never hands the same port out twice.
/// A race with another program on the machine remains possible between our test bind and the
/// member's bind: <see cref="MemberProcess"/> retries its first start on "address already in use".
/// </summary>
internal static class FreePorts
{
    private const int Lowest = 10_000;

    private static readonly Lock s_lock = new();
    private static readonly HashSet<int> s_handedOut = [];

    public static int Next()
    {
        int highest = EphemeralRangeStart() - 1;
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            int port = Random.Shared.Next(Lowest, highest + 1);
            lock (s_lock)
            {
                if (s_handedOut.Contains(port) || !IsFree(port))
                {
                    continue;
                }

                s_handedOut.Add(port);
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port in [{Lowest}, {highest}]");
    }

    private static bool IsFree(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            listener.Stop();
        }
    }

    // /proc/sys/net/ipv4/ip_local_port_range: "<first>\t<last>\n"
    private static int EphemeralRangeStart()
    {
        try
        {
            string text = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range");
            string first = text.Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)[0];
            int start = int.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
            return start > Lowest + 1000 ? start : 32_768;
        }
        catch (IOException)
        {
            return 32_768;
        }
    }
}
