using Dotcd.Api.Etcdserverpb;
using Dotcd.Server.Apply;
using Dotcd.Server.RaftLoop;
using Dotcd.Server.Services;
using Dotcd.Storage;
using Google.Protobuf;

namespace Dotcd.Server.Leases;

/// <summary>
/// A member's leases as the Lease service sees them (etcd's EtcdServer.Lease* methods): the
/// leader's expiry half bound to the raft loop, its revoke loop, and the leader-only calls.
/// </summary>
/// <remarks>
/// Renew and TimeToLive are the leader's: etcd forwards them to the leader over the peer port;
/// dotcd has no peers yet, so a member that is not the primary waits for its promotion up to the
/// request timeout and then fails with "no leader" or "request timed out".
/// </remarks>
public sealed class MemberLeases : ILeases, IAsyncDisposable
{
    private readonly RaftNodeHost _raft;
    private readonly LeaseExpiry _expiry;
    private readonly IConsensus _consensus;
    private readonly TimeSpan _requestTimeout;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private readonly Func<LeaseCheckpointRequest, CancellationToken, Task>? _proposeCheckpoint;

    private MemberLeases(RaftNodeHost raft, LeaseExpiry expiry, IConsensus consensus, TimeSpan requestTimeout, IStorageLog log)
    {
        _raft = raft;
        _expiry = expiry;
        _consensus = consensus;
        _requestTimeout = requestTimeout;
        if (expiry.Options.CheckpointInterval is not null)
        {
            _proposeCheckpoint = (request, ct) => ProposeAsync(new InternalRaftRequest { LeaseCheckpoint = request }, ct);
        }

        raft.LeaderChanged += OnLeaderChanged;
        _loop = Task.Run(() => expiry.RunAsync(ProposeAsync, log, _stopping.Token));
    }

    public LeaseExpiry Expiry => _expiry;

    /// <summary>Binds the lessor's expiry half to a running raft loop and starts the revoke loop.</summary>
    /// <param name="consensus">Linearizable waits (etcd waits for the applied index before leader-only reads).</param>
    public static MemberLeases Start(Lessor lessor, RaftNodeHost raft, IConsensus consensus, LeaseExpiryOptions options,
        TimeProvider time, TimeSpan requestTimeout, IStorageLog log)
    {
        ArgumentNullException.ThrowIfNull(raft);
        var expiry = new LeaseExpiry(lessor, time, term => raft.IsLeader && raft.Term == term, options);
        return new MemberLeases(raft, expiry, consensus, requestTimeout, log);
    }

    /// <summary>A server-chosen lease ID: etcd's request ID generator, kept positive and non-zero.</summary>
    public long NewLeaseId()
    {
        while (true)
        {
            long id = (long)(_raft.NextRequestId() & long.MaxValue);
            if (id != 0)
            {
                return id;
            }
        }
    }

    public async Task<long?> RenewAsync(long leaseId, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_requestTimeout);
        try
        {
            while (true)
            {
                (RenewStatus status, long ttl) = await _expiry.RenewAsync(leaseId, _proposeCheckpoint, deadline.Token).ConfigureAwait(false);
                switch (status)
                {
                    case RenewStatus.Renewed:
                        return ttl;
                    case RenewStatus.NotFound:
                        return null;
                }

                await _expiry.WhenPrimary.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw NotPrimaryError().ToException();
        }
    }

    public async Task<LeaseTimeToLiveResponse?> TimeToLiveAsync(long leaseId, bool keys, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_requestTimeout);
        try
        {
            await _expiry.WhenPrimary.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw NotPrimaryError().ToException();
        }

        await _consensus.WaitLinearizableAsync(cancellationToken).ConfigureAwait(false);
        return _expiry.TimeToLive(leaseId, keys);
    }

    public IReadOnlyList<long> Leases() => _expiry.Leases();

    public async ValueTask DisposeAsync()
    {
        _raft.LeaderChanged -= OnLeaderChanged;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _expiry.Demote(); // Renewals waiting on an expired lease give up.
        _stopping.Dispose();
    }

    private void OnLeaderChanged(LeaderChange change)
    {
        if (!change.IsLeader)
        {
            _expiry.Demote(); // A member that stops leading stops expiring at once.
        }
    }

    private EtcdError NotPrimaryError() => _raft.Leader == 0 ? EtcdErrors.NoLeader : EtcdErrors.Timeout;

    private async Task ProposeAsync(InternalRaftRequest request, CancellationToken cancellationToken)
    {
        ApplyResult result = await _raft.ProposeAsync(request.ToByteArray(), cancellationToken).ConfigureAwait(false);
        if (result.Error is { } error)
        {
            throw error;
        }
    }
}
