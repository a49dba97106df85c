namespace Dotcd.Client;

/// <summary>
/// A kept-alive lease is gone: the server said it no longer exists (expired or revoked), or no
/// renewal arrived before its TTL ran out, so it must be presumed expired.
/// </summary>
public sealed class LeaseExpiredException : Exception
{
    public LeaseExpiredException(long leaseId, bool serverConfirmed)
        : base(serverConfirmed
            ? $"lease {leaseId:x} expired or was revoked (etcdserver: requested lease not found)"
            : $"lease {leaseId:x} was not renewed before its TTL ran out; presumed expired")
    {
        LeaseId = leaseId;
        ServerConfirmed = serverConfirmed;
    }

    public long LeaseId { get; }

    /// <summary>True when the server answered that the lease does not exist; false when the client gave up waiting.</summary>
    public bool ServerConfirmed { get; }
}
