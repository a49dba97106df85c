using System.Text;
using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.WatchLease;

/// <summary>Small steps the watch, lease and lock tests share.</summary>
internal static class WatchSync
{
    public const string Sentinel = "sync";

    /// <summary>
    /// Waits until a watch started "from now" (no --rev) is live. etcdctl prints nothing when
    /// the server creates the watch, and the start revision is whatever the store has when the
    /// request arrives, so: put <see cref="Sentinel"/> on a watched key until the watch prints
    /// it. The sentinel events come before every later event (revision order) and
    /// <see cref="WithoutSentinels"/> cuts them, so the rest of the output is exact.
    /// </summary>
    public static async Task FromNowAsync(MemberProcess member, EtcdctlProcess watch, string key)
    {
        for (int attempt = 1; ; attempt++)
        {
            await member.Etcdctl.RunOkAsync("put", key, Sentinel);
            try
            {
                await watch.WaitForStdoutAsync($"{key}\n{Sentinel}\n", TimeSpan.FromMilliseconds(500));
                return;
            }
            catch (TimeoutException) when (attempt < 30 && !watch.HasExited)
            {
                // Not live yet; the put went before the watch. Try again.
            }
        }
    }

    /// <summary>Simple watch output without the leading sentinel PUTs of <see cref="FromNowAsync"/>.</summary>
    public static string WithoutSentinels(string stdout, string key)
    {
        string sentinel = $"PUT\n{key}\n{Sentinel}\n";
        int sentinels = 0;
        while (stdout.StartsWith(sentinel, StringComparison.Ordinal))
        {
            stdout = stdout[sentinel.Length..];
            sentinels++;
        }

        Assert.True(sentinels > 0, "the watch output lost its sentinel event: " + stdout);
        return stdout;
    }

    /// <summary>A txn without compares whose success ops are <paramref name="ops"/>; must succeed.</summary>
    public static async Task<string> TxnOkAsync(MemberProcess member, string[] ops, params string[] args)
    {
        var stdin = new StringBuilder("\n"); // No compares: the success branch runs.
        foreach (string op in ops)
        {
            stdin.Append(op).Append('\n');
        }

        stdin.Append("\n\n");
        EtcdctlResult result = await member.Etcdctl.RunAsync(["txn", .. args], stdin.ToString());
        Assert.True(result.ExitCode == 0, $"txn {string.Join(", ", ops)}: {result}");
        return result.Stdout;
    }
}
