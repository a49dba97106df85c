using System.Diagnostics;

namespace Dotcd.Client.Tests;

/// <summary>Runs when both etcd and etcdctl are installed; skipped with the reason otherwise.</summary>
public sealed class EtcdctlFactAttribute : FactAttribute
{
    public EtcdctlFactAttribute()
    {
        if (!File.Exists(EtcdServer.Binary) || !File.Exists(Tools.Etcdctl))
        {
            Skip = $"etcd and etcdctl must be installed at {EtcdServer.Binary} and {Tools.Etcdctl} (Debian packages etcd-server, etcd-client)";
        }
    }
}

public static class Tools
{
    public const string Etcdctl = "/usr/bin/etcdctl";

    /// <summary>Runs a tool to its end (30 s at most) and returns its exit code with stdout and stderr together.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["ETCDCTL_API"] = "3";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
