using Dotcd.Grpc;

namespace Dotcd.Client.Tests;

/// <summary>A real etcd serving https and requiring client certificates from the test CA.</summary>
public sealed class TlsTests(TlsEtcdServer etcd) : IClassFixture<TlsEtcdServer>
{
    [EtcdFact]
    public async Task ClientWithTheCaBundleAndACertificateTalksToATlsEtcd()
    {
        using EtcdClient client = etcd.CreateClient();
        string key = $"/tls/{Guid.NewGuid():N}";
        await client.KV.PutAsync(key, "secret");
        Assert.Equal("secret", Assert.Single((await client.KV.GetAsync(key)).Kvs).Value.ToStringUtf8());
    }

    [EtcdFact]
    public async Task ABareHostAndPortMeansHttpsWhenTlsIsConfigured()
    {
        using EtcdClient client = etcd.CreateClient($"127.0.0.1:{etcd.ClientPort}");
        Assert.Equal([etcd.Endpoint], client.Endpoints);
        Assert.NotEmpty((await client.Cluster.MemberListAsync()).Members);
    }

    [EtcdFact]
    public async Task AClientWithoutACertificateIsRefused()
    {
        EtcdClientOptions options = etcd.ClientOptions();
        options.ClientCertificate = null;
        using var client = new EtcdClient(options);

        var error = await Assert.ThrowsAsync<EtcdException>(() => client.KV.GetAsync("k"));
        Assert.Equal(StatusCode.Unavailable, error.Code);
    }

    [EtcdFact]
    public async Task AServerOutsideTheTrustedCasIsRefusedBeforeAnyRequestIsSent()
    {
        EtcdClientOptions options = etcd.ClientOptions();
        options.TrustedCertificateAuthorities = [TestCertificates.Create().Ca]; // Some other CA.
        using var client = new EtcdClient(options);

        var error = await Assert.ThrowsAsync<EtcdException>(() => client.KV.PutAsync("k", "v"));
        Assert.Equal(StatusCode.Unavailable, error.Code);
        Assert.False(error.RequestMayHaveBeenSent);
    }

    [EtcdFact]
    public async Task SkippingVerificationStillNeedsTheClientCertificate()
    {
        EtcdClientOptions options = etcd.ClientOptions();
        options.TrustedCertificateAuthorities = null;
        options.InsecureSkipTlsVerify = true;
        using var client = new EtcdClient(options);
        Assert.NotEmpty((await client.Maintenance.StatusAsync()).Version);
    }
}
