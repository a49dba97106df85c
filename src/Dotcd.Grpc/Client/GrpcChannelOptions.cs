using System.Security.Cryptography.X509Certificates;

namespace Dotcd.Grpc;

/// <summary>Connection settings of a <see cref="GrpcChannel"/>.</summary>
public sealed class GrpcChannelOptions
{
    /// <summary>Open another HTTP/2 connection when the server's stream limit is reached (grpc-go does not; harmless).</summary>
    public bool EnableMultipleHttp2Connections { get; set; } = true;

    /// <summary>
    /// Ping after this much silence from the server, so a dead connection under an idle watch is
    /// noticed (etcdctl's --keepalive-time). <see cref="Timeout.InfiniteTimeSpan"/> disables pings.
    /// </summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Drop the connection when a ping is not answered within this (etcdctl's --keepalive-timeout).</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Ping only while calls are open. etcd (grpc-go) sends GOAWAY "too_many_pings" to clients
    /// that ping idle connections, so this is the safe default.
    /// </summary>
    public HttpKeepAlivePingPolicy KeepAlivePingPolicy { get; set; } = HttpKeepAlivePingPolicy.WithActiveRequests;

    /// <summary>Time allowed to open a TCP (and TLS) connection (etcdctl's --dial-timeout).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The largest response message accepted; clientv3 allows up to 2 GiB.</summary>
    public int MaxReceiveMessageBytes { get; set; } = int.MaxValue;

    /// <summary>Client certificates (with private keys) for servers that require them (etcdctl's --cert/--key).</summary>
    public X509Certificate2Collection? ClientCertificates { get; set; }

    /// <summary>CAs the server certificate must chain to (etcdctl's --cacert). Null: the system store.</summary>
    public X509Certificate2Collection? TrustedCertificateAuthorities { get; set; }

    /// <summary>Accept any server certificate (etcdctl's --insecure-skip-tls-verify).</summary>
    public bool SkipServerCertificateValidation { get; set; }

    public string UserAgent { get; set; } = "dotcd-grpc/1.0";
}
