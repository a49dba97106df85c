using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dotcd.Client.Tests;

/// <summary>A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, written as PEM files for etcd.</summary>
public sealed class TestCertificates
{
    private TestCertificates(X509Certificate2 ca, X509Certificate2 server, X509Certificate2 client) =>
        (Ca, Server, Client) = (ca, server, client);

    public X509Certificate2 Ca { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public string CaPath { get; private set; } = "";

    public string ServerCertificatePath { get; private set; } = "";

    public string ServerKeyPath { get; private set; } = "";

    public string ClientCertificatePath { get; private set; } = "";

    public string ClientKeyPath { get; private set; } = "";

    public static TestCertificates Create()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using ECDsa caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=dotcd client test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        X509Certificate2 ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));

        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        X509Certificate2 server = Issue(ca, "CN=127.0.0.1", "1.3.6.1.5.5.7.3.1", san.Build(), 1);
        X509Certificate2 client = Issue(ca, "CN=root", "1.3.6.1.5.5.7.3.2", null, 2);
        return new TestCertificates(ca, server, client);
    }

    public void WritePemFiles(string directory)
    {
        CaPath = Path.Combine(directory, "ca.pem");
        ServerCertificatePath = Path.Combine(directory, "server.pem");
        ServerKeyPath = Path.Combine(directory, "server-key.pem");
        ClientCertificatePath = Path.Combine(directory, "client.pem");
        ClientKeyPath = Path.Combine(directory, "client-key.pem");
        File.WriteAllText(CaPath, Ca.ExportCertificatePem());
        File.WriteAllText(ServerCertificatePath, Server.ExportCertificatePem());
        File.WriteAllText(ServerKeyPath, Server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(ClientCertificatePath, Client.ExportCertificatePem());
        File.WriteAllText(ClientKeyPath, Client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string subject, string usage, X509Extension? san, byte serial)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 issued = request.Create(ca, now.AddHours(-1), now.AddHours(12), [serial, 7, 7, 7]);
        return issued.CopyWithPrivateKey(key);
    }
}
