using System.Diagnostics;
using System.Text;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>
/// What one etcdctl run did. Stdout is kept as bytes too, for `-w protobuf`. A run that timed
/// out or was cancelled was killed and has exit code -1.
/// </summary>
public sealed record EtcdctlResult(int ExitCode, byte[] StdoutBytes, string Stderr, bool TimedOut, TimeSpan Elapsed)
{
    public string Stdout => Encoding.UTF8.GetString(StdoutBytes);

    public override string ToString() =>
        $"exit {ExitCode}{(TimedOut ? " (timed out or cancelled)" : "")}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
}

/// <summary>
/// Runs the real /usr/bin/etcdctl (v3 API) against one endpoint: args, optional stdin, a
/// timeout after which the process is killed. ETCDCTL_* variables of the caller are dropped
/// so only the arguments decide what runs.
/// </summary>
public sealed class Etcdctl
{
    public const string EtcdctlPath = "/usr/bin/etcdctl";

    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(30);

    private readonly Func<string> _endpoint;   // Read at each run: a restarted member keeps its port, but be safe.
    private readonly string _workingDirectory;

    public Etcdctl(Func<string> endpoint, string workingDirectory)
    {
        _endpoint = endpoint;
        _workingDirectory = workingDirectory;
    }

    public string WorkingDirectory => _workingDirectory;

    public Task<EtcdctlResult> RunAsync(params string[] args) => RunAsync(args, stdin: null);

    /// <summary>Runs etcdctl; <paramref name="kill"/> kills it early (a client that crashes).</summary>
    public Task<EtcdctlResult> RunAsync(
        IReadOnlyList<string> args, string? stdin = null, TimeSpan? timeout = null, CancellationToken kill = default) =>
        RunProcessAsync(["--endpoints=" + _endpoint(), .. args], stdin, timeout ?? s_defaultTimeout, _workingDirectory, kill);

    /// <summary>Runs and insists on exit code 0; returns stdout.</summary>
    public async Task<string> RunOkAsync(params string[] args)
    {
        EtcdctlResult result = await RunAsync(args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"etcdctl {string.Join(' ', args)} failed: {result}");
        }

        return result.Stdout;
    }

    /// <summary>An etcdctl command that talks to no server (`snapshot status`).</summary>
    public static Task<EtcdctlResult> RunOfflineAsync(IReadOnlyList<string> args, string workingDirectory) =>
        RunProcessAsync(args, stdin: null, s_defaultTimeout, workingDirectory, CancellationToken.None);

    private static async Task<EtcdctlResult> RunProcessAsync(
        IReadOnlyList<string> args, string? stdin, TimeSpan timeout, string workingDirectory, CancellationToken kill)
    {
        var start = new ProcessStartInfo(EtcdctlPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("ETCDCTL", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["ETCDCTL_API"] = "3";

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        Task<byte[]> stdoutTask = ReadAllAsync(process.StandardOutput.BaseStream);
        Task<string> stderrTask = process.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin);
            }

            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // etcdctl exited before reading all of stdin; its exit code tells the story.
        }

        bool timedOut = false;
        using (var cancel = CancellationTokenSource.CreateLinkedTokenSource(kill))
        {
            cancel.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        byte[] stdout = await stdoutTask;
        string stderr = await stderrTask;
        return new EtcdctlResult(timedOut ? -1 : process.ExitCode, stdout, stderr, timedOut, clock.Elapsed);
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
