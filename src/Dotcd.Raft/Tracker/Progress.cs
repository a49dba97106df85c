using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Dotcd.Raft.Tracker;

/// <summary>
/// The leader's view of one follower: how far its log matches and how the leader sends to it.
/// Probe: one MsgApp at a time until Match is found. Replicate: pipelined MsgApps within the
/// inflight window. Snapshot: waiting for a snapshot to be applied, nothing sent.
/// </summary>
internal sealed class Progress
{
    public Progress()
    {
    }

    [SetsRequiredMembers]
    public Progress(ulong next, int maxInflight, bool isLearner = false)
    {
        Next = next;
        Inflights = new Inflights(maxInflight);
        IsLearner = isLearner;
    }

    /// <summary>The highest index known to be replicated on the follower.</summary>
    public ulong Match { get; set; }

    /// <summary>The next index to send. Invariant: Match &lt; Next (outside transient updates).</summary>
    public ulong Next { get; set; }

    public ProgressState State { get; set; } = ProgressState.Probe;

    /// <summary>In Snapshot state, the index of the snapshot being sent; 0 otherwise.</summary>
    public ulong PendingSnapshot { get; set; }

    /// <summary>Heard from recently (reset by the leader every election timeout for CheckQuorum).</summary>
    public bool RecentActive { get; set; }

    /// <summary>In Probe state, a probe was sent and no answer came yet: the follower is paused.</summary>
    public bool ProbeSent { get; set; }

    /// <summary>Messages in flight in Replicate state.</summary>
    public required Inflights Inflights { get; set; }

    public bool IsLearner { get; set; }

    /// <summary>Moves to state, clearing the probe flag, pending snapshot and inflight window.</summary>
    public void ResetState(ProgressState state)
    {
        ProbeSent = false;
        PendingSnapshot = 0;
        State = state;
        Inflights.Reset();
    }

    /// <summary>An answer to a probe arrived: the next probe may go out.</summary>
    public void ProbeAcked() => ProbeSent = false;

    /// <summary>
    /// Back to probing from Match+1; after a snapshot, from past the snapshot when it is newer,
    /// since the follower most likely applied it.
    /// </summary>
    public void BecomeProbe()
    {
        if (State == ProgressState.Snapshot)
        {
            ulong pendingSnapshot = PendingSnapshot;
            ResetState(ProgressState.Probe);
            Next = Math.Max(Match + 1, pendingSnapshot + 1);
        }
        else
        {
            ResetState(ProgressState.Probe);
            Next = Match + 1;
        }
    }

    public void BecomeReplicate()
    {
        ResetState(ProgressState.Replicate);
        Next = Match + 1;
    }

    public void BecomeSnapshot(ulong snapshotIndex)
    {
        ResetState(ProgressState.Snapshot);
        PendingSnapshot = snapshotIndex;
    }

    /// <summary>
    /// Records an acknowledgement of index n. True when Match moved (a stale ack returns false).
    /// Next never moves back.
    /// </summary>
    public bool MaybeUpdate(ulong n)
    {
        bool updated = false;
        if (Match < n)
        {
            Match = n;
            updated = true;
            ProbeAcked();
        }
        if (Next < n + 1)
        {
            Next = n + 1;
        }
        return updated;
    }

    /// <summary>Entries up to n were sent in Replicate state: continue after them without waiting.</summary>
    public void OptimisticUpdate(ulong n) => Next = n + 1;

    /// <summary>
    /// Handles a rejected MsgApp for index rejected, the follower's last index being last. Returns
    /// false when the rejection is stale (out of order) and must be ignored.
    /// </summary>
    public bool MaybeDecrTo(ulong rejected, ulong last)
    {
        if (State == ProgressState.Replicate)
        {
            // Anything at or below Match was accepted before; the rejection is stale.
            if (rejected <= Match)
            {
                return false;
            }
            // Match is known good: restart right after it.
            Next = Match + 1;
            return true;
        }

        // In Probe state only the answer to the outstanding probe (at Next-1) counts.
        if (Next == 0 || Next - 1 != rejected)
        {
            return false;
        }

        Next = Math.Max(Math.Min(rejected, last + 1), 1);
        ProbeSent = false;
        return true;
    }

    /// <summary>True when the leader must not send MsgApp to this follower right now.</summary>
    public bool IsPaused() => State switch
    {
        ProgressState.Probe => ProbeSent,
        ProgressState.Replicate => Inflights.Full,
        ProgressState.Snapshot => true,
        _ => throw new InvalidOperationException($"unexpected progress state {State}"),
    };

    /// <summary>A deep copy (the inflight window included).</summary>
    public Progress Clone() => new()
    {
        Match = Match,
        Next = Next,
        State = State,
        PendingSnapshot = PendingSnapshot,
        RecentActive = RecentActive,
        ProbeSent = ProbeSent,
        Inflights = Inflights.Clone(),
        IsLearner = IsLearner,
    };

    /// <summary>etcd's format, e.g. "StateReplicate match=5 next=6 learner paused inflight=3[full]".</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("State").Append(State).Append(" match=").Append(Match).Append(" next=").Append(Next);
        if (IsLearner)
        {
            sb.Append(" learner");
        }
        if (IsPaused())
        {
            sb.Append(" paused");
        }
        if (PendingSnapshot > 0)
        {
            sb.Append(" pendingSnap=").Append(PendingSnapshot);
        }
        if (!RecentActive)
        {
            sb.Append(" inactive");
        }
        if (Inflights.Count > 0)
        {
            sb.Append(" inflight=").Append(Inflights.Count);
            if (Inflights.Full)
            {
                sb.Append("[full]");
            }
        }
        return sb.ToString();
    }
}
