namespace Dotcd.Client.Concurrency;

/// <summary>
/// A lease kept alive for as long as the session lives (clientv3's concurrency.Session): the
/// liveness that locks and elections hang their keys on. When the process dies, the lease expires
/// after its TTL and those keys go with it. Disposing stops the keepalive and revokes the lease.
/// </summary>
public sealed class EtcdSession : IAsyncDisposable
{
    /// <summary>clientv3's default session TTL.</summary>
    public const int DefaultTtlSeconds = 60;

    private readonly LeaseKeepAlive _keepAlive;

    private EtcdSession(EtcdClient client, long leaseId, long ttlSeconds, LeaseKeepAlive keepAlive)
    {
        Client = client;
        LeaseId = leaseId;
        TtlSeconds = ttlSeconds;
        _keepAlive = keepAlive;
    }

    public EtcdClient Client { get; }

    /// <summary>The lease that keys of this session are attached to.</summary>
    public long LeaseId { get; }

    public long TtlSeconds { get; }

    /// <summary>Completes when the session is orphaned or disposed; faults when its lease is lost.</summary>
    public Task Done => _keepAlive.Completion;

    /// <summary>Cancelled when the lease is lost: whatever the session guarded may now belong to someone else.</summary>
    public CancellationToken Lost => _keepAlive.Lost;

    /// <summary>
    /// Grants a lease of <paramref name="ttlSeconds"/> (or adopts <paramref name="leaseId"/>, say to
    /// reclaim a lock or leadership after a restart) and keeps it alive.
    /// </summary>
    public static async Task<EtcdSession> CreateAsync(EtcdClient client, long ttlSeconds = DefaultTtlSeconds, long leaseId = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (ttlSeconds <= 0)
        {
            ttlSeconds = DefaultTtlSeconds;
        }

        if (leaseId == 0)
        {
            leaseId = (await client.Lease.GrantAsync(ttlSeconds, call: cancellationToken).ConfigureAwait(false)).ID;
        }

        return new EtcdSession(client, leaseId, ttlSeconds, client.Lease.KeepAlive(leaseId));
    }

    /// <summary>Stops the keepalive without revoking: the lease expires after its TTL (or another process adopts it).</summary>
    public void Orphan() => _keepAlive.Dispose();

    /// <summary>Stops the keepalive and revokes the lease, deleting the session's keys at once.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        Orphan();
        // A revoke that takes longer than the TTL is moot: the lease has expired by then.
        await Client.Lease.RevokeAsync(LeaseId, new EtcdCallOptions { Timeout = TimeSpan.FromSeconds(TtlSeconds), CancellationToken = cancellationToken })
            .ConfigureAwait(false);
    }

    /// <summary>Closes the session; a lease that is already gone, or a cluster out of reach, is not an error here.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        catch (EtcdException)
        {
            // Expired already, or unreachable: either way it expires within its TTL.
        }
        catch (ObjectDisposedException)
        {
            // The client went first.
        }
    }
}
