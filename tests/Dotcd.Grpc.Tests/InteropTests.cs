using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Dotcd.Grpc.Tests;

/// <summary>Runs when etcdctl is installed; skipped with a reason otherwise.</summary>
public sealed class EtcdctlFactAttribute : FactAttribute
{
    public EtcdctlFactAttribute()
    {
        if (!File.Exists(Interop.Etcdctl))
        {
            Skip = $"etcdctl is not installed at {Interop.Etcdctl} (Debian package etcd-client)";
        }
    }
}

/// <summary>Runs when etcd is installed; skipped with a reason otherwise.</summary>
public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        if (!File.Exists(Interop.Etcd))
        {
            Skip = $"etcd is not installed at {Interop.Etcd} (Debian package etcd-server)";
        }
    }
}

public static class Interop
{
    public const string Etcdctl = "/usr/bin/etcdctl";
    public const string Etcd = "/usr/bin/etcd";

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
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

        return (process.ExitCode, await stdout, await stderr);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Protobuf length-delimited field (short values only), enough to speak to etcd by hand.</summary>
    public static byte[] Field(int number, byte[] value) => [(byte)((number << 3) | 2), checked((byte)value.Length), .. value];

    public static byte[] Field(int number, string value) => Field(number, Encoding.UTF8.GetBytes(value));
}

/// <summary>grpc-go (etcdctl 3.4) as the client of our server, over h2c with prior knowledge.</summary>
public sealed class EtcdctlInteropTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(builder =>
    {
        // An empty StatusResponse is a valid protobuf: all fields default.
        builder.AddUnary("/etcdserverpb.Maintenance/Status", call => call.WriteResponseAsync(ReadOnlyMemory<byte>.Empty));
        builder.AddUnary("/etcdserverpb.KV/Range", _ =>
            throw new GrpcStatusException(StatusCode.FailedPrecondition, "etcdserver: clé 100% introuvable"));
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string[] Args(params string[] command) =>
        [$"--endpoints={_server.Address}", "--dial-timeout=5s", "--command-timeout=5s", .. command];

    [EtcdctlFact]
    public async Task EtcdctlEndpointStatusTalksToOurServer()
    {
        (int exit, string stdout, string stderr) = await Interop.RunAsync(Interop.Etcdctl, Args("endpoint", "status", "-w", "json"));
        Assert.True(exit == 0, $"etcdctl failed ({exit}): {stderr}");
        Assert.Contains($"\"Endpoint\":\"{_server.Address}\"", stdout);
    }

    [EtcdctlFact]
    public async Task EtcdctlDecodesOurPercentEncodedStatus()
    {
        (int exit, _, string stderr) = await Interop.RunAsync(Interop.Etcdctl, Args("get", "foo"));
        Assert.NotEqual(0, exit);
        Assert.Contains("etcdserver: clé 100% introuvable", stderr);
    }

    [EtcdctlFact]
    public async Task EtcdctlSeesUnimplementedForAnUnknownMethod()
    {
        (int exit, _, string stderr) = await Interop.RunAsync(Interop.Etcdctl, Args("put", "foo", "bar"));
        Assert.NotEqual(0, exit);
        Assert.Contains("code = Unimplemented desc = unknown method Put for service etcdserverpb.KV", stderr);
    }
}

/// <summary>Our client against a real etcd 3.4 (grpc-go's server), and our answers beside etcd's.</summary>
public sealed class EtcdInteropTests : IAsyncLifetime
{
    private Process? _etcd;
    private string _dataDir = "";
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Interop.Etcd))
        {
            return;
        }

        int client = Interop.FreePort();
        int peer = Interop.FreePort();
        _dataDir = Directory.CreateTempSubdirectory("dotcd-grpc-etcd-").FullName;
        var start = new ProcessStartInfo(Interop.Etcd)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--name", "interop", "--data-dir", _dataDir,
            "--listen-client-urls", $"http://127.0.0.1:{client}", "--advertise-client-urls", $"http://127.0.0.1:{client}",
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"interop=http://127.0.0.1:{peer}", "--logger", "zap", "--log-level", "error",
        })
        {
            start.ArgumentList.Add(arg);
        }

        _etcd = Process.Start(start)!;
        _etcd.OutputDataReceived += (_, _) => { };
        _etcd.ErrorDataReceived += (_, _) => { };
        _etcd.BeginOutputReadLine();
        _etcd.BeginErrorReadLine();
        _channel = GrpcChannel.Create($"http://127.0.0.1:{client}");

        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await _channel.UnaryAsync("/etcdserverpb.Maintenance/Status", ReadOnlyMemory<byte>.Empty,
                    new CallOptions { Timeout = TimeSpan.FromSeconds(1) });
                return;
            }
            catch (GrpcStatusException) when (clock.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }
        }
    }

    public Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_etcd is { HasExited: false })
        {
            _etcd.Kill();
            _etcd.WaitForExit(5000);
        }

        _etcd?.Dispose();
        if (_dataDir.Length > 0)
        {
            Directory.Delete(_dataDir, recursive: true);
        }

        return Task.CompletedTask;
    }

    [EtcdFact]
    public async Task OurClientPutsAndReadsBackThroughARealEtcd()
    {
        byte[] status = await _channel.UnaryAsync("/etcdserverpb.Maintenance/Status", ReadOnlyMemory<byte>.Empty);
        Assert.Contains("3.4", Encoding.ASCII.GetString(status));

        await _channel.UnaryAsync("/etcdserverpb.KV/Put", (byte[])[.. Interop.Field(1, "interop-key"), .. Interop.Field(2, "interop-value")]);
        byte[] range = await _channel.UnaryAsync("/etcdserverpb.KV/Range", Interop.Field(1, "interop-key"));
        Assert.Contains("interop-value", Encoding.ASCII.GetString(range));
    }

    [EtcdFact]
    public async Task OurClientWatchesARealEtcdOverABidiStream()
    {
        using GrpcClientCall watch = _channel.StartDuplexStreaming("/etcdserverpb.Watch/Watch");
        await watch.WriteAsync(Interop.Field(1, Interop.Field(1, "watched-key"))); // WatchRequest{create_request{key}}
        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10))); // created

        await _channel.UnaryAsync("/etcdserverpb.KV/Put", (byte[])[.. Interop.Field(1, "watched-key"), .. Interop.Field(2, "new-value")]);
        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("new-value", Encoding.ASCII.GetString(watch.Current));
    }

    [EtcdFact]
    public async Task OversizeRequestTextMatchesEtcds()
    {
        // etcd 3.4: MaxRecvMsgSize = --max-request-bytes (1.5 MiB) + 512 KiB of gRPC overhead.
        const int etcdLimit = (3 * 512 * 1024) + (512 * 1024);
        var etcdError = await Assert.ThrowsAsync<GrpcStatusException>(() => _channel.UnaryAsync("/etcdserverpb.KV/Put", new byte[etcdLimit + 1]));

        await using TestServer ours = await TestServer.StartAsync(builder =>
        {
            builder.Options.MaxReceiveMessageBytes = etcdLimit;
            builder.AddUnary("/etcdserverpb.KV/Put", call => call.WriteResponseAsync(ReadOnlyMemory<byte>.Empty));
        });
        using GrpcChannel channel = ours.Channel();
        var ourError = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync("/etcdserverpb.KV/Put", new byte[etcdLimit + 1]));

        Assert.Equal(StatusCode.ResourceExhausted, etcdError.StatusCode);
        Assert.Equal($"grpc: received message larger than max ({etcdLimit + 1} vs. {etcdLimit})", etcdError.Detail);
        Assert.Equal(etcdError.Status, ourError.Status);
    }

    [EtcdFact]
    public async Task UnknownMethodAndServiceTextsMatchEtcds()
    {
        await using TestServer ours = await TestServer.StartAsync(builder =>
            builder.AddUnary("/etcdserverpb.KV/Range", call => call.WriteResponseAsync(ReadOnlyMemory<byte>.Empty)));
        using GrpcChannel channel = ours.Channel();
        foreach (string path in new[] { "/etcdserverpb.KV/Nope", "/etcdserverpb.Foo/Bar" })
        {
            var etcdError = await Assert.ThrowsAsync<GrpcStatusException>(() => _channel.UnaryAsync(path, ReadOnlyMemory<byte>.Empty));
            var ourError = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync(path, ReadOnlyMemory<byte>.Empty));
            Assert.Equal(StatusCode.Unimplemented, etcdError.StatusCode);
            Assert.Equal(etcdError.Status, ourError.Status);
        }
    }
}
