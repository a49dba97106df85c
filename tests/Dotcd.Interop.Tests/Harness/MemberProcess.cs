using System.Diagnostics;
using System.Net.Http;

namespace Dotcd.Interop.Tests.Harness;

/// <summary>Settings for a <see cref="MemberProcess"/> beyond the flags every member gets.</summary>
public sealed record MemberOptions
{
    public string Name { get; init; } = "interop";

    /// <summary>Flags appended after the standard ones, e.g. "--quota-backend-bytes=1048576".</summary>
    public IReadOnlyList<string> ExtraFlags { get; init; } = [];

    /// <summary>How long a start or restart may take before the member counts as broken.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// One single-member cluster as an OS process: a real etcd or dotcd started with the same etcd
/// flags, a data dir of its own in a temp dir, loopback ports picked by <see cref="FreePorts"/>.
/// Start waits until the member answers; Kill (SIGKILL), Stop (SIGTERM) and Restart (same
/// flags, same data dir, same ports) drive it; Dispose kills it and deletes its files.
/// </summary>
public sealed class MemberProcess : IDisposable
{
    public const string EtcdPath = "/usr/bin/etcd";

    private const string AddressInUse = "address already in use"; // Go's and .NET's bind error text.

    private static readonly HttpClient s_http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero })
    {
        Timeout = TimeSpan.FromSeconds(3),
    };

    private readonly MemberOptions _options;
    private Process? _process;   // Invariant: null (none yet, or disposed), or the latest process started (it may have exited).
    private int _starts;         // How many processes this member has run; numbers them in Output.
    private bool _disposed;

    private MemberProcess(MemberKind kind, MemberOptions options, string rootDir)
    {
        Kind = kind;
        _options = options;
        RootDir = rootDir;
        DataDir = Path.Combine(rootDir, "data");
        WorkDir = Path.Combine(rootDir, "work");
        Directory.CreateDirectory(WorkDir);
        Etcdctl = new Etcdctl(() => Endpoint, WorkDir);
    }

    public MemberKind Kind { get; }

    public string Name => _options.Name;

    /// <summary>Holds the data dir and the work dir; deleted on Dispose.</summary>
    public string RootDir { get; }

    public string DataDir { get; }

    /// <summary>Where <see cref="Etcdctl"/> runs, so relative files (snapshots) land here.</summary>
    public string WorkDir { get; }

    public int ClientPort { get; private set; }

    public int PeerPort { get; private set; }

    /// <summary>host:port, as etcdctl's --endpoints takes it and prints it.</summary>
    public string Endpoint => $"127.0.0.1:{ClientPort}";

    public string ClientUrl => $"http://127.0.0.1:{ClientPort}";

    public string PeerUrl => $"http://127.0.0.1:{PeerPort}";

    /// <summary>etcdctl aimed at this member.</summary>
    public Etcdctl Etcdctl { get; }

    /// <summary>stdout and stderr of every process this member ran, for diagnosis.</summary>
    public OutputLog Output { get; } = new();

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a fresh member and waits until it answers.</summary>
    public static async Task<MemberProcess> StartAsync(MemberKind kind, MemberOptions? options = null)
    {
        options ??= new MemberOptions();
        string root = Path.Combine(Path.GetTempPath(), "dotcd-interop", $"{kind}-{options.Name}-{Guid.NewGuid().ToString("N")[..12]}");
        var member = new MemberProcess(kind, options, root);
        try
        {
            // A port another program took between our test bind and the member's bind is the
            // one failure worth a retry, with new ports and a clean data dir.
            for (int attempt = 1; ; attempt++)
            {
                member.ClientPort = FreePorts.Next();
                member.PeerPort = FreePorts.Next();
                long mark = member.Output.Mark;
                try
                {
                    await member.LaunchAndWaitAsync();
                    return member;
                }
                catch (MemberStartException) when (attempt < 3 && member.Output.ContainsSince(mark, AddressInUse))
                {
                    member.KillProcess();
                    if (Directory.Exists(member.DataDir))
                    {
                        Directory.Delete(member.DataDir, recursive: true);
                    }
                }
            }
        }
        catch
        {
            member.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: the process gets no chance to flush anything.</summary>
    public void Kill() => KillProcess();

    /// <summary>SIGTERM, then SIGKILL if the member has not exited within the grace period.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        Process? process = _process;
        if (process is null || process.HasExited)
        {
            return;
        }

        ChildProcesses.Signal(process, ChildProcesses.SigTerm);
        using var timeout = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            KillProcess();
        }

        ChildProcesses.Forget(process);
    }

    /// <summary>Starts the member again on its data dir and ports (stopping it first if it runs).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();

        // The old listening sockets are gone with the process; a few retries cover the case
        // where the kernel has not yet released the port.
        for (int attempt = 1; ; attempt++)
        {
            long mark = Output.Mark;
            try
            {
                await LaunchAndWaitAsync();
                return;
            }
            catch (MemberStartException) when (attempt < 5 && Output.ContainsSince(mark, AddressInUse))
            {
                KillProcess();
                await Task.Delay(500);
            }
        }
    }

    /// <summary>The exit code of the last process, once it has exited.</summary>
    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        KillProcess();
        _process?.Dispose();
        _process = null;
        try
        {
            Directory.Delete(RootDir, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: it is in the temp dir.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public override string ToString() => $"{Kind} member {Name} at {ClientUrl} (data {DataDir})";

    /// <summary>The same flags for etcd and dotcd: that dotcd takes etcd's flags is part of the test.</summary>
    private IReadOnlyList<string> Flags() =>
    [
        "--name", Name,
        "--data-dir", DataDir,
        "--listen-client-urls", ClientUrl,
        "--advertise-client-urls", ClientUrl,
        "--listen-peer-urls", PeerUrl,
        "--initial-advertise-peer-urls", PeerUrl,
        "--initial-cluster", $"{Name}={PeerUrl}",
        .. _options.ExtraFlags,
    ];

    private async Task LaunchAndWaitAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = RootDir,
        };
        if (Kind == MemberKind.Etcd)
        {
            start.FileName = EtcdPath;
        }
        else
        {
            (string fileName, string? firstArgument) = DotcdExecutable.Command();
            start.FileName = fileName;
            if (firstArgument is not null)
            {
                start.ArgumentList.Add(firstArgument);
            }
        }

        foreach (string flag in Flags())
        {
            start.ArgumentList.Add(flag);
        }

        // The caller's ETCD_* variables would change the member's configuration behind the flags.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("ETCD", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        _process?.Dispose(); // The previous process has exited (Stop, Kill or a failed start).
        int number = ++_starts;
        Output.Add($"--- start #{number}: {start.FileName} {string.Join(' ', start.ArgumentList)}");
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Output.Add(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Output.Add(e.Data); } };
        process.Start();
        ChildProcesses.Track(process);
        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        await WaitUntilReadyAsync(process);
    }

    // Ready means: /health answers {"health":"true"} (a leader exists and a read went through),
    // or, for a member whose HTTP side answers but lacks /health, etcdctl's own probe passes.
    private async Task WaitUntilReadyAsync(Process process)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                process.WaitForExit(); // Drains the output readers.
                throw new MemberStartException(
                    $"{this} exited with code {process.ExitCode} before it was ready:\n{Output.Tail()}");
            }

            HealthProbe probe = await ProbeHealthAsync();
            if (probe == HealthProbe.Healthy)
            {
                return;
            }

            if (probe == HealthProbe.NoHealthEndpoint)
            {
                EtcdctlResult result = await Etcdctl.RunAsync(
                    ["endpoint", "health", "--dial-timeout=1s", "--command-timeout=2s"], timeout: TimeSpan.FromSeconds(10));
                if (result.ExitCode == 0)
                {
                    return;
                }
            }

            if (clock.Elapsed > _options.ReadyTimeout)
            {
                KillProcess();
                throw new MemberStartException(
                    $"{this} did not become ready within {_options.ReadyTimeout.TotalSeconds} s:\n{Output.Tail()}");
            }

            await Task.Delay(100);
        }
    }

    private enum HealthProbe
    {
        NotYet,
        Healthy,
        NoHealthEndpoint,
    }

    private async Task<HealthProbe> ProbeHealthAsync()
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, ClientUrl + "/health");
            request.Headers.ConnectionClose = true;
            using HttpResponseMessage response = await s_http.SendAsync(request);
            if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                return HealthProbe.NoHealthEndpoint;
            }

            string body = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode && body.Contains("\"health\":\"true\"", StringComparison.Ordinal)
                ? HealthProbe.Healthy
                : HealthProbe.NotYet;
        }
        catch (HttpRequestException)
        {
            return HealthProbe.NotYet;
        }
        catch (TaskCanceledException)
        {
            return HealthProbe.NotYet;
        }
    }

    private void KillProcess()
    {
        Process? process = _process;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        ChildProcesses.Forget(process);
    }
}

/// <summary>A member exited or hung during start; the message carries its last output.</summary>
public sealed class MemberStartException(string message) : Exception(message);
