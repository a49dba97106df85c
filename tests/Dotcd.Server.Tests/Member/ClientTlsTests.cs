using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Dotcd.Client;
using Dotcd.Server.Composition;

namespace Dotcd.Server.Tests.Composition;

public sealed class ClientTlsTests
{
    [Fact]
    public async Task WithCertFilesAndClientCertAuthTheMemberServesHttpsOnlyToClientsWithACertificate()
    {
        string dir = Path.Combine(Path.GetTempPath(), "dotcd-member-tls", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        try
        {
            using RSA caKey = RSA.Create(2048);
            var caRequest = new CertificateRequest("CN=dotcd test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
            using X509Certificate2 ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(2));

            using RSA leafKey = RSA.Create(2048);
            var leafRequest = new CertificateRequest("CN=127.0.0.1", leafKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            leafRequest.CertificateExtensions.Add(names.Build());
            leafRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
            using X509Certificate2 leaf = leafRequest.Create(ca, now.AddDays(-1), now.AddDays(1), [1, 2, 3, 4]);

            string caFile = Write(dir, "ca.crt", ca.ExportCertificatePem());
            string certFile = Write(dir, "server.crt", leaf.ExportCertificatePem());
            string keyFile = Write(dir, "server.key", leafKey.ExportPkcs8PrivateKeyPem());

            await using EtcdMember member = await EtcdMember.StartAsync(new EtcdMemberOptions
            {
                DataDir = Path.Combine(dir, "data"),
                ListenClientUrls = ["https://127.0.0.1:0"],
                ClientTls = new ClientTls(certFile, keyFile, caFile, ClientCertAuth: true),
                StopGracePeriod = TimeSpan.FromMilliseconds(200),
            });
            string endpoint = member.ClientUrls[0].ToString().TrimEnd('/');
            Assert.StartsWith("https://127.0.0.1:", endpoint);

            var authorities = new X509Certificate2Collection(X509CertificateLoader.LoadCertificate(ca.RawData));
            using (var client = new EtcdClient(new EtcdClientOptions
            {
                Endpoints = [endpoint],
                TrustedCertificateAuthorities = authorities,
                ClientCertificate = EtcdClientOptions.LoadClientCertificate(certFile, keyFile),
            }))
            {
                await client.KV.PutAsync("secure", "yes");
                Assert.Equal("yes", (await client.KV.GetAsync("secure")).Kvs.Single().Value.ToStringUtf8());
            }

            using var anonymous = new EtcdClient(new EtcdClientOptions
            {
                Endpoints = [endpoint],
                TrustedCertificateAuthorities = authorities,
                DialTimeout = TimeSpan.FromSeconds(2),
            });
            await Assert.ThrowsAnyAsync<Exception>(() => anonymous.KV.GetAsync("secure", call: EtcdCallOptions.WithTimeout(TimeSpan.FromSeconds(3))));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task AnHttpsUrlWithoutCertificateFilesIsRefusedAtStartup()
    {
        var options = new EtcdMemberOptions { DataDir = Path.Combine(Path.GetTempPath(), "dotcd-never-created", Guid.NewGuid().ToString("N")), ListenClientUrls = ["https://127.0.0.1:0"] };

        MemberStartException refused = await Assert.ThrowsAsync<MemberStartException>(() => EtcdMember.StartAsync(options));

        Assert.Equal("TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:0 with HTTPS scheme", refused.Message);
        Assert.False(Directory.Exists(options.DataDir));
    }

    [Fact]
    public async Task AClusterOfSeveralMembersIsRefusedUntilPeersExist()
    {
        var options = new EtcdMemberOptions
        {
            DataDir = Path.Combine(Path.GetTempPath(), "dotcd-never-created", Guid.NewGuid().ToString("N")),
            InitialCluster = [("default", ["http://localhost:2380"]), ("other", ["http://localhost:2480"])],
        };

        MemberStartException refused = await Assert.ThrowsAsync<MemberStartException>(() => EtcdMember.StartAsync(options));

        Assert.Contains("single member", refused.Message);
        Assert.False(Directory.Exists(options.DataDir));
    }

    private static string Write(string dir, string name, string text)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
