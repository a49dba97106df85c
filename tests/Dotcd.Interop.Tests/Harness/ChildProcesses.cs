using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>
/// Every server process the tests start, so that none outlives the test run: disposing a
/// member kills it, and when the test host exits (normally or on SIGTERM) the rest are killed.
/// </summary>
internal static class ChildProcesses
{
    public const int SigTerm = 15;

    private static readonly Lock s_lock = new();
    private static readonly HashSet<Process> s_live = []; // Invariant: started and not yet seen to exit.

    static ChildProcesses()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    public static void Track(Process process)
    {
        lock (s_lock)
        {
            s_live.Add(process);
        }
    }

    public static void Forget(Process process)
    {
        lock (s_lock)
        {
            s_live.Remove(process);
        }
    }

    /// <summary>Sends a POSIX signal; .NET itself can only send SIGKILL.</summary>
    public static void Signal(Process process, int signal)
    {
        if (kill(process.Id, signal) != 0 && !process.HasExited)
        {
            throw new InvalidOperationException(
                $"kill({process.Id}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private static void KillAll()
    {
        Process[] live;
        lock (s_lock)
        {
            live = [.. s_live];
            s_live.Clear();
        }

        foreach (Process process in live)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // LibraryImport would need unsafe code enabled for one call.
    private static extern int kill(int pid, int sig);
#pragma warning restore SYSLIB1054
}
