using System.Diagnostics;
using System.Text;
using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.WatchLease;

/// <summary>
/// A long-running etcdctl (watch, lease keep-alive, lock, elect) as a background process: its
/// stdout and stderr are collected while it runs, a test waits until a line appears, feeds stdin
/// lines (`watch -i`), then stops it with a signal and gets what it printed. Killed on dispose
/// and at test-host exit, like the members.
/// </summary>
public sealed class EtcdctlProcess : IAsyncDisposable
{
    public const int SigInt = 2;

    private static readonly TimeSpan s_defaultWait = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly StringBuilder _stdout = new(); // Guarded by _lock; grows only.
    private readonly StringBuilder _stderr = new(); // Guarded by _lock; grows only.
    private readonly Task _stdoutReader;
    private readonly Task _stderrReader;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    // Completed (and replaced) whenever output arrives or the process exits, so waiters re-check.
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private EtcdctlProcess(Process process, string display)
    {
        _process = process;
        Display = display;
        _stdoutReader = PumpAsync(process.StandardOutput, _stdout);
        _stderrReader = PumpAsync(process.StandardError, _stderr);
    }

    /// <summary>The command line, for failure messages.</summary>
    public string Display { get; }

    public bool HasExited => _process.HasExited;

    public string Stdout
    {
        get
        {
            lock (_lock)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_lock)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts `etcdctl --endpoints=&lt;member&gt; args...` with stdin kept open.</summary>
    public static EtcdctlProcess Start(MemberProcess member, params string[] args)
    {
        var start = new ProcessStartInfo(Etcdctl.EtcdctlPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = member.WorkDir,
        };
        start.ArgumentList.Add("--endpoints=" + member.Endpoint);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // As Etcdctl does: only the arguments decide what runs.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("ETCDCTL", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["ETCDCTL_API"] = "3";
        var process = Process.Start(start)!;
        ChildProcesses.Track(process);
        return new EtcdctlProcess(process, "etcdctl " + string.Join(' ', args));
    }

    /// <summary>Writes one line to stdin (an interactive `watch -i` command).</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteAsync(line + "\n");
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>
    /// Waits until stdout satisfies <paramref name="done"/>; fails with everything printed so
    /// far when the process exits first or the time runs out.
    /// </summary>
    public async Task WaitForStdoutAsync(Func<string, bool> done, string what, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan limit = timeout ?? s_defaultWait;
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                changed = _changed.Task;
            }

            // Read before the check: once exited, stdout is complete and the check is final.
            bool exited = _process.HasExited && _stdoutReader.IsCompleted;
            if (done(Stdout))
            {
                return;
            }

            if (exited || clock.Elapsed > limit)
            {
                throw new TimeoutException(
                    $"{Display}: {(exited ? $"exited with code {_process.ExitCode}" : $"still running after {limit.TotalSeconds} s")} " +
                    $"before its output showed {what}\nstdout:\n{Stdout}\nstderr:\n{Stderr}");
            }

            await Task.WhenAny(changed, Task.Delay(TimeSpan.FromMilliseconds(200)));
        }
    }

    /// <summary>Waits until stdout contains <paramref name="text"/>.</summary>
    public Task WaitForStdoutAsync(string text, TimeSpan? timeout = null) =>
        WaitForStdoutAsync(s => s.Contains(text, StringComparison.Ordinal), $"\"{text}\"", timeout);

    /// <summary>Waits for the process to exit by itself; kills it and fails after the timeout.</summary>
    public async Task<EtcdctlResult> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? s_defaultWait);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            EtcdctlResult killed = await KillAsync();
            throw new TimeoutException($"{Display} did not exit within {(timeout ?? s_defaultWait).TotalSeconds} s: {killed}");
        }

        return await ResultAsync(timedOut: false);
    }

    /// <summary>
    /// Sends <paramref name="signal"/> (SIGINT by default: lock and elect release on it), waits
    /// for the exit, kills after the grace period. The result holds everything printed.
    /// </summary>
    public async Task<EtcdctlResult> StopAsync(int signal = SigInt, TimeSpan? grace = null)
    {
        if (!_process.HasExited)
        {
            ChildProcesses.Signal(_process, signal);
            using var cancel = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                return await KillAsync();
            }
        }

        return await ResultAsync(timedOut: false);
    }

    /// <summary>SIGKILL: a client that dies without a word (its session's lease is left to expire).</summary>
    public async Task<EtcdctlResult> KillAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited meanwhile.
        }

        await _process.WaitForExitAsync();
        return await ResultAsync(timedOut: true);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        ChildProcesses.Forget(_process);
        _process.Dispose();
    }

    public override string ToString() => $"{Display}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";

    private async Task<EtcdctlResult> ResultAsync(bool timedOut)
    {
        await Task.WhenAll(_stdoutReader, _stderrReader);
        ChildProcesses.Forget(_process);
        return new EtcdctlResult(timedOut ? -1 : _process.ExitCode, Encoding.UTF8.GetBytes(Stdout), Stderr, timedOut, _clock.Elapsed);
    }

    private async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        char[] buffer = new char[4096];
        while (true)
        {
            int read = await reader.ReadAsync(buffer);
            lock (_lock)
            {
                if (read > 0)
                {
                    into.Append(buffer, 0, read);
                }

                TaskCompletionSource changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                changed.SetResult();
            }

            if (read == 0)
            {
                return;
            }
        }
    }
}
