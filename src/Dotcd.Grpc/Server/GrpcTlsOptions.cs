using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Dotcd.Grpc;

/// <summary>TLS for an https:// listen URL (etcd's --cert-file, --key-file, --trusted-ca-file, --client-cert-auth).</summary>
public sealed class GrpcTlsOptions
{
    /// <summary>The server's certificate with its private key.</summary>
    public X509Certificate2? ServerCertificate { get; set; }

    /// <summary>
    /// Picks the certificate per connection, overriding <see cref="ServerCertificate"/>: return a
    /// freshly loaded certificate to rotate it without a restart.
    /// </summary>
    public Func<X509Certificate2?>? ServerCertificateSelector { get; set; }

    /// <summary>Whether clients must present a certificate. etcd's --client-cert-auth is RequireCertificate.</summary>
    public ClientCertificateMode ClientCertificateMode { get; set; } = ClientCertificateMode.NoCertificate;

    /// <summary>CAs a client certificate must chain to (etcd's --trusted-ca-file). Null: the system store.</summary>
    public X509Certificate2Collection? TrustedClientCertificateAuthorities { get; set; }

    /// <summary>A custom client-certificate check; replaces the chain check against <see cref="TrustedClientCertificateAuthorities"/>.</summary>
    public Func<X509Certificate2, X509Chain?, SslPolicyErrors, bool>? ClientCertificateValidation { get; set; }

    /// <summary>Allowed TLS versions; None lets the OS choose.</summary>
    public SslProtocols SslProtocols { get; set; } = SslProtocols.None;

    internal HttpsConnectionAdapterOptions ToKestrel()
    {
        if (ServerCertificate is null && ServerCertificateSelector is null)
        {
            throw new InvalidOperationException("An https:// listener needs a ServerCertificate or ServerCertificateSelector.");
        }

        var options = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = ServerCertificate,
            ClientCertificateMode = ClientCertificateMode,
            SslProtocols = SslProtocols,
            CheckCertificateRevocation = false,
        };
        if (ServerCertificateSelector is { } selector)
        {
            options.ServerCertificateSelector = (_, _) => selector();
        }

        if (ClientCertificateValidation is { } validate)
        {
            options.ClientCertificateValidation = validate;
        }
        else if (TrustedClientCertificateAuthorities is { } authorities)
        {
            options.ClientCertificateValidation = (certificate, _, _) =>
                TlsChain.ChainsTo(certificate, authorities, TlsChain.ClientAuthenticationOid);
        }

        return options;
    }
}

/// <summary>Certificate chain checks against an explicit CA bundle instead of the system store.</summary>
internal static class TlsChain
{
    public const string ServerAuthenticationOid = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection authorities, string usageOid)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.ExtraStore.AddRange(authorities); // Bundles may carry intermediates too.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(usageOid));
        return chain.Build(certificate);
    }
}
