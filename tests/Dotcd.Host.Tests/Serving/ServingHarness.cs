using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Dotcd.Host.Tests.Serving;

/// <summary>
/// The built dotcd executable as an OS process with etcd's flags, a data dir in a temp dir and
/// free loopback ports. Start waits for "ready to serve client requests"; Kill is SIGKILL,
/// StopAsync SIGTERM; Start again reuses the data dir and ports. Dispose kills it and deletes its files.
/// </summary>
internal sealed class DotcdProcess : IDisposable
{
    private readonly StringBuilder _output = new(); // Guarded by itself: every line the processes printed.
    private readonly IReadOnlyList<string> _extraFlags;
    private Process? _process;

    public DotcdProcess(params IReadOnlyList<string> extraFlags)
    {
        _extraFlags = extraFlags;
        Root = Path.Combine(Path.GetTempPath(), "dotcd-serving-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        ClientPort = FreePort();
        PeerPort = FreePort();
        Etcdctl = new Etcdctl(Endpoint, Root);
    }

    public string Root { get; }

    public string DataDir => Path.Combine(Root, "data");

    public int ClientPort { get; }

    public int PeerPort { get; }

    public string Endpoint => $"127.0.0.1:{ClientPort}";

    public string ClientUrl => $"http://{Endpoint}";

    public string PeerUrl => $"http://127.0.0.1:{PeerPort}";

    public Etcdctl Etcdctl { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public int? ExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    /// <summary>The log lines (JSON) printed so far, parsed.</summary>
    public IReadOnlyList<JsonElement> LogLines => Output.Split('\n')
        .Where(l => l.StartsWith('{'))
        .Select(l => JsonDocument.Parse(l).RootElement.Clone())
        .ToList();

    public static string Executable => Path.Combine(AppContext.BaseDirectory, "dotcd.dll");

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        start.ArgumentList.Add(Executable);
        foreach (string flag in (string[])[
            "--name", "serving",
            "--data-dir", DataDir,
            "--listen-client-urls", ClientUrl,
            "--advertise-client-urls", ClientUrl,
            "--listen-peer-urls", PeerUrl,
            "--initial-advertise-peer-urls", PeerUrl,
            "--initial-cluster", $"serving={PeerUrl}",
            .. _extraFlags])
        {
            start.ArgumentList.Add(flag);
        }

        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("ETCD", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start };
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (_output)
            {
                _output.Append(e.Data).Append('\n');
            }

            if (e.Data.Contains("\"msg\":\"ready to serve client requests\"", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.OutputDataReceived += collect;
        process.ErrorDataReceived += collect;
        process.Start();
        _process = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        Task finished = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (finished != ready.Task)
        {
            Kill();
            throw new InvalidOperationException($"dotcd did not become ready:\n{Output}");
        }
    }

    /// <summary>SIGKILL: nothing gets flushed.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, then waits for the exit code.</summary>
    public async Task<int> StopAsync()
    {
        Process process = _process ?? throw new InvalidOperationException("not started");
        if (!process.HasExited)
        {
            using (Process signal = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await signal.WaitForExitAsync();
                Assert.Equal(0, signal.ExitCode);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(timeout.Token);
        }

        process.WaitForExit(); // Drains the output readers.
        return process.ExitCode;
    }

    public void Dispose()
    {
        Kill();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>What one etcdctl run printed.</summary>
internal sealed record CtlResult(int ExitCode, string StandardOutput, string StandardError)
{
    public JsonElement Json => JsonDocument.Parse(StandardOutput).RootElement.Clone();

    public override string ToString() => $"exit {ExitCode}\nstdout: {StandardOutput}\nstderr: {StandardError}";
}

/// <summary>The real etcdctl (3.4, v3 API) aimed at one endpoint.</summary>
internal sealed class Etcdctl(string endpoint, string workingDirectory)
{
    public const string Path = "/usr/bin/etcdctl";

    public async Task<CtlResult> RunAsync(string[] args, string? standardInput = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.Environment["ETCDCTL_API"] = "3";
        start.ArgumentList.Add("--endpoints=" + endpoint);
        start.ArgumentList.Add("--command-timeout=5s");
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
        }

        process.StandardInput.Close();
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"etcdctl {string.Join(' ', args)} did not finish");
        }

        return new CtlResult(process.ExitCode, await output, await error);
    }

    /// <summary>Runs and insists on success.</summary>
    public async Task<CtlResult> OkAsync(params string[] args)
    {
        CtlResult result = await RunAsync(args);
        Assert.True(result.ExitCode == 0, $"etcdctl {string.Join(' ', args)}: {result}");
        return result;
    }
}
