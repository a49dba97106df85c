using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client.Tests;

/// <summary>Runs when the reference etcd is installed; skipped with the reason otherwise.</summary>
public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        if (!File.Exists(EtcdServer.Binary))
        {
            Skip = $"etcd is not installed at {EtcdServer.Binary} (Debian package etcd-server); these tests run the client against it";
        }
    }
}

/// <summary>One etcd process on loopback with its own temporary data directory; killed and deleted on dispose.</summary>
public sealed class EtcdMember : IDisposable
{
    private readonly Process _process;
    private readonly string _dataDirectory;
    private bool _disposed;

    private EtcdMember(Process process, string dataDirectory, string name, string clientUrl, string peerUrl) =>
        (_process, _dataDirectory, Name, ClientUrl, PeerUrl) = (process, dataDirectory, name, clientUrl, peerUrl);

    public string Name { get; }

    public string ClientUrl { get; }

    public string PeerUrl { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>Starts a member; <paramref name="initialCluster"/> null means a cluster of this member alone.</summary>
    public static EtcdMember Start(string name, string clientUrl, string peerUrl, string? initialCluster = null, IEnumerable<string>? extraArguments = null)
    {
        string dataDirectory = Directory.CreateTempSubdirectory("dotcd-client-etcd-").FullName;
        var start = new ProcessStartInfo(EtcdServer.Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string[] arguments =
        [
            "--name", name, "--data-dir", dataDirectory,
            "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
            "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
            "--initial-cluster", initialCluster ?? $"{name}={peerUrl}", "--logger", "zap", "--log-level", "error",
            .. extraArguments ?? [],
        ];
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new EtcdMember(process, dataDirectory, name, clientUrl, peerUrl);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        Directory.Delete(_dataDirectory, recursive: true);
    }
}

/// <summary>
/// A real single-member etcd on loopback with free ports, for a test class (or collection) to
/// share. Nothing starts when etcd is not installed (the tests then skip).
/// </summary>
public class EtcdServer : IAsyncLifetime
{
    /// <summary>The server the tests run against: the real etcd, or any binary taking etcd's flags
    /// (DOTCD_CLIENT_TESTS_SERVER=artifacts/bin/dotcd runs the single-member tests against dotcd).</summary>
    public static readonly string Binary = Environment.GetEnvironmentVariable("DOTCD_CLIENT_TESTS_SERVER") is { Length: > 0 } server
        ? Path.GetFullPath(server)
        : "/usr/bin/etcd";

    private readonly List<EtcdMember> _members = [];
    private string _tlsDirectory = "";

    /// <summary>The client URL, e.g. "http://127.0.0.1:40123".</summary>
    public string Endpoint { get; protected set; } = "";

    public int ClientPort => Endpoint.Length == 0 ? 0 : new Uri(Endpoint).Port;

    /// <summary>The client TLS settings, when this server serves https.</summary>
    protected virtual TestCertificates? Certificates => null;

    public async Task InitializeAsync()
    {
        if (File.Exists(Binary))
        {
            await StartAsync();
        }
    }

    /// <summary>Starts the members and sets <see cref="Endpoint"/>.</summary>
    protected virtual async Task StartAsync()
    {
        string scheme = Certificates is null ? "http" : "https";
        Endpoint = $"{scheme}://127.0.0.1:{FreePort()}";
        var extra = new List<string>();
        if (Certificates is { } certificates)
        {
            _tlsDirectory = Directory.CreateTempSubdirectory("dotcd-client-tls-").FullName;
            certificates.WritePemFiles(_tlsDirectory);
            extra.AddRange(["--cert-file", certificates.ServerCertificatePath, "--key-file", certificates.ServerKeyPath,
                "--client-cert-auth", "--trusted-ca-file", certificates.CaPath]);
        }

        EtcdMember member = Track(EtcdMember.Start("client-test", Endpoint, $"http://127.0.0.1:{FreePort()}", extraArguments: extra));
        await WaitUntilServingAsync(member);
    }

    protected EtcdMember Track(EtcdMember member)
    {
        _members.Add(member);
        return member;
    }

    /// <summary>Waits until a member answers Status (etcd 3.4 serves clients only once its cluster has a leader).</summary>
    protected async Task<StatusResponse> WaitUntilServingAsync(EtcdMember member)
    {
        using EtcdClient client = CreateClient(member.ClientUrl);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await client.Maintenance.StatusAsync(call: EtcdCallOptions.WithTimeout(TimeSpan.FromSeconds(1)));
            }
            catch (EtcdException) when (clock.Elapsed < TimeSpan.FromSeconds(30) && !member.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>A client of this server alone, or of <paramref name="endpoints"/> when given.</summary>
    public EtcdClient CreateClient(params string[] endpoints) => new(ClientOptions(endpoints));

    public virtual EtcdClientOptions ClientOptions(params string[] endpoints) =>
        new() { Endpoints = endpoints.Length > 0 ? endpoints : [Endpoint], DialTimeout = TimeSpan.FromSeconds(2) };

    public Task DisposeAsync()
    {
        _members.ForEach(member => member.Dispose());
        if (_tlsDirectory.Length > 0)
        {
            Directory.Delete(_tlsDirectory, recursive: true);
        }

        return Task.CompletedTask;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>An etcd that serves clients over https and requires a client certificate from the test CA.</summary>
public sealed class TlsEtcdServer : EtcdServer
{
    public TestCertificates Tls { get; } = TestCertificates.Create();

    protected override TestCertificates? Certificates => Tls;

    public override EtcdClientOptions ClientOptions(params string[] endpoints)
    {
        EtcdClientOptions options = base.ClientOptions(endpoints);
        options.TrustedCertificateAuthorities = EtcdClientOptions.LoadCertificateAuthorities(Tls.CaPath);
        options.ClientCertificate = EtcdClientOptions.LoadClientCertificate(Tls.ClientCertificatePath, Tls.ClientKeyPath);
        return options;
    }
}

/// <summary>
/// The survivor of a two-member cluster whose other member was killed: it still serves clients
/// but cannot elect a leader, so writes and linearizable reads wait and "hasleader" calls fail.
/// </summary>
public sealed class LeaderlessEtcdServer : EtcdServer
{
    protected override async Task StartAsync()
    {
        string[] timing = ["--heartbeat-interval", "50", "--election-timeout", "500"];
        string survivorPeer = $"http://127.0.0.1:{FreePort()}";
        string victimPeer = $"http://127.0.0.1:{FreePort()}";
        string cluster = $"survivor={survivorPeer},victim={victimPeer}";
        EtcdMember survivor = Track(EtcdMember.Start("survivor", $"http://127.0.0.1:{FreePort()}", survivorPeer, cluster, timing));
        EtcdMember victim = Track(EtcdMember.Start("victim", $"http://127.0.0.1:{FreePort()}", victimPeer, cluster, timing));
        await WaitUntilServingAsync(survivor);
        victim.Dispose();

        Endpoint = survivor.ClientUrl;
        using EtcdClient client = CreateClient();
        var clock = Stopwatch.StartNew();
        while ((await client.Maintenance.StatusAsync()).Leader != 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the survivor kept a leader");
            await Task.Delay(100);
        }
    }
}
