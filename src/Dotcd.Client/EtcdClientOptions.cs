using System.Security.Cryptography.X509Certificates;

namespace Dotcd.Client;

/// <summary>How an <see cref="EtcdClient"/> reaches the cluster (etcdctl's global flags).</summary>
public sealed class EtcdClientOptions
{
    /// <summary>
    /// Client URLs, tried in order: "http://host:port" or "https://host:port". A bare "host:port"
    /// means https when TLS settings are given, http otherwise.
    /// </summary>
    public IList<string> Endpoints { get; set; } = [];

    /// <summary>Time allowed to open one connection (TCP and TLS) to one endpoint (etcdctl's --dial-timeout).</summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Deadline for calls that give none of their own (etcdctl's --command-timeout). Null: no deadline.</summary>
    public TimeSpan? DefaultCallTimeout { get; set; }

    /// <summary>Send "hasleader: true": the server fails calls with "etcdserver: no leader" rather than wait for one.</summary>
    public bool RequireLeader { get; set; }

    /// <summary>The auth token sent as "token" metadata (from Authenticate); null sends none.</summary>
    public string? Token { get; set; }

    /// <summary>More metadata sent with every call.</summary>
    public IDictionary<string, string> Metadata { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>CAs the servers' certificates must chain to (etcdctl's --cacert). Null: the system store.</summary>
    public X509Certificate2Collection? TrustedCertificateAuthorities { get; set; }

    /// <summary>The client certificate with its private key (etcdctl's --cert and --key).</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>Accept any server certificate (etcdctl's --insecure-skip-tls-verify).</summary>
    public bool InsecureSkipTlsVerify { get; set; }

    /// <summary>Ping after this much silence on a connection with open calls (etcdctl's --keepalive-time).</summary>
    public TimeSpan KeepAliveTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Drop a connection whose ping goes unanswered this long (etcdctl's --keepalive-timeout).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest response accepted; clientv3's default is 2 GiB.</summary>
    public int MaxReceiveMessageBytes { get; set; } = int.MaxValue;

    internal bool UsesTls => TrustedCertificateAuthorities is not null || ClientCertificate is not null || InsecureSkipTlsVerify;

    /// <summary>Reads a PEM file of one or more CA certificates (etcdctl's --cacert).</summary>
    public static X509Certificate2Collection LoadCertificateAuthorities(string pemPath)
    {
        var authorities = new X509Certificate2Collection();
        authorities.ImportFromPemFile(pemPath);
        if (authorities.Count == 0)
        {
            throw new ArgumentException($"{pemPath} holds no PEM certificate.", nameof(pemPath));
        }

        return authorities;
    }

    /// <summary>Reads a PEM certificate and its PEM private key (etcdctl's --cert and --key).</summary>
    public static X509Certificate2 LoadClientCertificate(string certificatePemPath, string keyPemPath) =>
        X509Certificate2.CreateFromPemFile(certificatePemPath, keyPemPath);
}
