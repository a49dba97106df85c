using Google.Protobuf;

namespace Dotcd.Server.Leases;

/// <summary>
/// One lease. Its ID, TTLs and keys are replicated state (changed only by applied entries); its
/// expiry is the leader's own business (<see cref="LeaseExpiry"/>) and means nothing elsewhere.
/// </summary>
/// <remarks>Every field is guarded by <see cref="Lessor.Gate"/>.</remarks>
internal sealed class Lease
{
    /// <summary>An expiry that never comes: every lease on a member that is not the primary.</summary>
    public const long Forever = long.MaxValue;

    public Lease(long id, long ttlSeconds, long remainingTtlSeconds)
    {
        Id = id;
        TtlSeconds = ttlSeconds;
        RemainingTtlSeconds = remainingTtlSeconds;
    }

    public long Id { get; }

    /// <summary>The granted TTL, already raised to the minimum.</summary>
    public long TtlSeconds { get; }

    /// <summary>The last checkpointed remaining TTL; 0 means unset (the full TTL applies).</summary>
    public long RemainingTtlSeconds { get; set; }

    /// <summary>The TTL a refresh starts from: the checkpointed remainder when there is one.</summary>
    public long EffectiveRemainingTtlSeconds => RemainingTtlSeconds > 0 ? RemainingTtlSeconds : TtlSeconds;

    /// <summary>The live keys attached to this lease. Invariant: Lessor's key map points each back here.</summary>
    public HashSet<ByteString> Keys { get; } = [];

    /// <summary>Leader only: when the lease expires, in <see cref="LeaseExpiry"/> clock ticks; Forever elsewhere.</summary>
    public long Expiry { get; set; } = Forever;

    /// <summary>Leader only: when the expiry loop looks at this lease next (its expiry, or a retry after a revoke was proposed).</summary>
    public long NotifyAt { get; set; } = Forever;

    /// <summary>Leader only: when this lease's next checkpoint is due; Forever when none is scheduled.</summary>
    public long CheckpointAt { get; set; } = Forever;

    /// <summary>Completes when a revoke of this lease is applied (a renew of an expired lease waits for it).</summary>
    public TaskCompletionSource Revoked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
