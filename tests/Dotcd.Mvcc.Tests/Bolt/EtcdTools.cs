using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Dotcd.Mvcc.Tests.Bolt;

/// <summary>A fact that needs the real etcd 3.4 and etcdctl (Debian packages etcd-server, etcd-client).</summary>
public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        if (!File.Exists(EtcdTools.Etcd) || !File.Exists(EtcdTools.Etcdctl))
        {
            Skip = $"needs {EtcdTools.Etcd} and {EtcdTools.Etcdctl} (Debian packages etcd-server, etcd-client)";
        }
    }
}

internal static class EtcdTools
{
    public const string Etcd = "/usr/bin/etcd";
    public const string Etcdctl = "/usr/bin/etcdctl";

    /// <summary>Runs etcdctl (v3 API) to its end, 30 s at most; returns exit code, stdout and stderr.</summary>
    public static (int Exit, string Stdout, string Stderr) Etcdctl3(string workDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(Etcdctl)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workDirectory,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["ETCDCTL_API"] = "3";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"etcdctl {string.Join(' ', args)} did not finish in 30 s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Etcdctl3Ok(string workDirectory, params string[] args)
    {
        (int exit, string stdout, string stderr) = Etcdctl3(workDirectory, args);
        Assert.True(exit == 0, $"etcdctl {string.Join(' ', args)} exited {exit}: {stdout}{stderr}");
        return stdout;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A real single-member etcd on loopback, killed on dispose.</summary>
internal sealed class EtcdProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string[]> _drain;

    public string ClientUrl { get; }
    public string Endpoint { get; }

    private EtcdProcess(Process process, string clientUrl)
    {
        _process = process;
        ClientUrl = clientUrl;
        Endpoint = clientUrl["http://".Length..];
        // Drain etcd's log so the pipe never fills.
        _drain = Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
    }

    /// <summary>Starts etcd named "default" on dataDir; peerPort given to match a restored
    /// cluster's member URL, else a free one.</summary>
    public static EtcdProcess Start(string dataDir, int? peerPort = null)
    {
        int clientPort = EtcdTools.FreePort();
        int peer = peerPort ?? EtcdTools.FreePort();
        string clientUrl = $"http://127.0.0.1:{clientPort}";
        string peerUrl = $"http://127.0.0.1:{peer}";
        var start = new ProcessStartInfo(EtcdTools.Etcd)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string a in (string[])[
            "--name", "default", "--data-dir", dataDir,
            "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
            "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", $"default={peerUrl}", "--logger", "zap", "--log-level", "warn"])
        {
            start.ArgumentList.Add(a);
        }
        var etcd = new EtcdProcess(Process.Start(start)!, clientUrl);
        try
        {
            etcd.WaitHealthy();
            return etcd;
        }
        catch
        {
            etcd.Dispose();
            throw;
        }
    }

    private void WaitHealthy()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                _drain.Wait(5_000);
                string log = _drain.IsCompletedSuccessfully ? string.Join("\n", _drain.Result) : "";
                throw new InvalidOperationException($"etcd exited with {_process.ExitCode} before it was healthy:\n{log[Math.Max(0, log.Length - 3000)..]}");
            }
            try
            {
                string body = http.GetStringAsync($"{ClientUrl}/health").GetAwaiter().GetResult();
                if (body.Contains("\"true\""))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            Thread.Sleep(100);
        }
        _process.Kill(entireProcessTree: true);
        _drain.Wait(5_000);
        string output = _drain.IsCompletedSuccessfully ? string.Join("\n", _drain.Result) : "";
        throw new TimeoutException($"etcd was not healthy within 30 s:\n{output[Math.Max(0, output.Length - 3000)..]}");
    }

    public string Ctl(string workDirectory, params string[] args) =>
        EtcdTools.Etcdctl3Ok(workDirectory, ["--endpoints", Endpoint, .. args]);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
            _process.WaitForExit(10_000);
            _drain.Wait(5_000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
