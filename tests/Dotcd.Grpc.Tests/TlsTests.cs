using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Dotcd.Grpc.Tests;

/// <summary>https:// listeners: ALPN picks h2 or http/1.1; client certificates can be required.</summary>
public sealed class TlsTests : IAsyncLifetime
{
    private readonly TestCertificates _certificates = TestCertificates.Create();
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        var tls = new GrpcTlsOptions
        {
            ServerCertificate = _certificates.Server,
            ClientCertificateMode = ClientCertificateMode.RequireCertificate,
            TrustedClientCertificateAuthorities = [_certificates.Ca],
        };
        _server = await TestServer.StartAsync(builder =>
        {
            builder.AddUnary("/test.Echo/WhoAmI", call =>
                call.WriteResponseAsync(Encoding.UTF8.GetBytes(call.ClientCertificate?.GetNameInfo(X509NameType.SimpleName, false) ?? "nobody")));
            builder.MapHttp("/health", context => context.Response.WriteAsync($"healthy over {context.Request.Protocol}"));
        }, "https://127.0.0.1:0", tls);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private GrpcChannelOptions TrustingOptions(bool withClientCertificate) => new()
    {
        TrustedCertificateAuthorities = [_certificates.Ca],
        ClientCertificates = withClientCertificate ? [_certificates.Client] : null,
    };

    [Fact]
    public async Task GrpcOverTlsSeesTheClientCertificate()
    {
        using GrpcChannel channel = _server.Channel(TrustingOptions(withClientCertificate: true));
        byte[] name = await channel.UnaryAsync("/test.Echo/WhoAmI", ReadOnlyMemory<byte>.Empty);
        Assert.Equal("root", Encoding.UTF8.GetString(name));
    }

    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task HttpHandlersAnswerOnTheTlsPortThroughAlpn(string version)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [_certificates.Client],
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && new X509Certificate2(certificate).Thumbprint == _certificates.Server.Thumbprint,
            },
        };
        using var http = new HttpClient(handler);
        using var request = new HttpRequestMessage(HttpMethod.Get, _server.Address + "/health")
        {
            Version = Version.Parse(version),
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.Equal(Version.Parse(version), response.Version);
        Assert.Equal($"healthy over HTTP/{(version == "1.1" ? "1.1" : "2")}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ClientWithoutACertificateIsRefused()
    {
        using GrpcChannel channel = _server.Channel(TrustingOptions(withClientCertificate: false));
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync("/test.Echo/WhoAmI", ReadOnlyMemory<byte>.Empty));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    [Fact]
    public async Task ClientRefusesAServerItsCasDoNotVouchFor()
    {
        TestCertificates strangers = TestCertificates.Create();
        using GrpcChannel channel = _server.Channel(new GrpcChannelOptions
        {
            TrustedCertificateAuthorities = [strangers.Ca],
            ClientCertificates = [_certificates.Client],
        });
        var error = await Assert.ThrowsAsync<GrpcStatusException>(() => channel.UnaryAsync("/test.Echo/WhoAmI", ReadOnlyMemory<byte>.Empty));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }
}

/// <summary>A throwaway CA with a server certificate for 127.0.0.1 and a client certificate for "root".</summary>
public sealed record TestCertificates(X509Certificate2 Ca, X509Certificate2 Server, X509Certificate2 Client)
{
    public static TestCertificates Create()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using ECDsa caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=dotcd test CA", caKey, HashAlgorithmName.SHA256);
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
