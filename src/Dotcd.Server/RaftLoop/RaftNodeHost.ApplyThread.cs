using Dotcd.Raft;
using Dotcd.Storage;

namespace Dotcd.Server.RaftLoop;

// The apply thread: applies committed entries in log order through IApplyTarget and answers
// the proposers waiting on them.
public sealed partial class RaftNodeHost
{
    private readonly ulong _consistentIndexAtStart; // Normal entries at or below it are in the backend already.
    private ulong _snapshotIndex;                   // Apply thread: the index of the last raft snapshot asked for.
    private readonly List<Entry> _run = new();      // Apply thread: Normal entries for the next ApplyEntries call.
    private readonly List<AppliedRequest> _completed = new();

    private void RunApplyThread()
    {
        try
        {
            while (_applyQueue.TryDequeue(out ApplyBatch batch))
            {
                WakeRaftIfWaiting(); // There is room in the queue now.
                if (batch.Snapshot is { } snapshot) ApplySnapshot(snapshot);
                ApplyEntries(batch.Entries);
                WakeRaftIfWaiting();
                MaybeTriggerSnapshot();
            }
            if (_gracefulStop && Volatile.Read(ref _fatal) is null) _target.Sync();
        }
        catch (StopRequestedException)
        {
        }
        catch (Exception e)
        {
            RequestStop(e);
        }
        finally
        {
            ThreadLeft();
        }
    }

    private void ApplySnapshot(Snapshot snapshot)
    {
        ulong applied = Volatile.Read(ref _appliedIndex);
        if (snapshot.Metadata.Index <= applied)
        {
            throw new RaftInvariantException($"snapshot index {snapshot.Metadata.Index} should be above the applied index {applied}");
        }
        _logger.Write(StorageLogLevel.Info, "applying snapshot", ("incoming-leader-snapshot-index", snapshot.Metadata.Index),
            ("current-applied-index", applied));
        _target.ApplySnapshot(snapshot);
        Volatile.Write(ref _confState, snapshot.Metadata.ConfState);
        _snapshotIndex = snapshot.Metadata.Index;
        Applied(snapshot.Metadata.Index, snapshot.Metadata.Term);
    }

    private void ApplyEntries(IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0) return;
        ulong applied = Volatile.Read(ref _appliedIndex);
        ulong first = entries[0].Index;
        if (first > applied + 1)
        {
            throw new RaftInvariantException($"first index of committed entry[{first}] should <= appliedi[{applied}] + 1");
        }

        ulong lastTerm = Volatile.Read(ref _appliedTerm);
        for (int i = (int)(applied + 1 - first); i < entries.Count; i++)
        {
            Entry entry = entries[i];
            if (entry.Term > lastTerm)
            {
                // Everything before a newer term's entry is decided: proposals this member made as
                // leader in an older term and not applied by now were overwritten.
                FlushRun();
                FailOverwrittenProposals(entry.Term);
                lastTerm = entry.Term;
            }

            switch (entry.Type)
            {
                case EntryType.Normal:
                    if (entry.Index <= _consistentIndexAtStart)
                    {
                        Applied(entry.Index, entry.Term); // Replayed: the backend holds it already.
                    }
                    else
                    {
                        _run.Add(entry);
                    }
                    break;
                case EntryType.ConfChange:
                case EntryType.ConfChangeV2:
                    FlushRun();
                    ApplyConfChangeEntry(entry);
                    break;
                default:
                    throw new RaftInvariantException($"unknown entry type {entry.Type} at index {entry.Index}");
            }
        }
        FlushRun();
    }

    // One backend transaction for the run, then the answers.
    private void FlushRun()
    {
        if (_run.Count == 0) return;
        _completed.Clear();
        _target.ApplyEntries(_run, _completed);
        Entry last = _run[^1];
        _run.Clear();
        Applied(last.Index, last.Term);
        foreach (AppliedRequest done in _completed)
        {
            if (_waiters.TryRemove(done.RequestId, out PendingProposal? waiter)) waiter.Completion.TrySetResult(done.Result);
        }
        _completed.Clear();
    }

    private void ApplyConfChangeEntry(Entry entry)
    {
        IConfChange change = ConfChangeCodec.Decode(entry.Type, entry.Data.Span);
        ConfChangeDecision decision = _target.ApplyConfChange(entry, change);

        // A rejected change still goes through raft, as a change of node 0 that raft ignores,
        // as etcd does: raft counts it as the applied pending conf change.
        IConfChange toRaft = decision.Accepted ? change : new ConfChange(ConfChangeType.AddNode, None);
        var request = new ConfChangeRequest(toRaft);
        _confChangeRequests.Enqueue(request);
        WakeRaft();
        try
        {
            request.Done.Wait(_stopping.Token);
        }
        catch (OperationCanceledException)
        {
            // Raft is gone: stop here; the WAL replays this entry at restart. (Done is not
            // disposed: the raft thread may still set it.)
            throw new StopRequestedException();
        }

        Volatile.Write(ref _confState, request.Result!);
        Applied(entry.Index, entry.Term);
        if (change.AsV1() is { Id: not 0 } v1 && _waiters.TryRemove(v1.Id, out PendingProposal? waiter))
        {
            waiter.Completion.TrySetResult(decision.Result ?? new ApplyResult());
        }
    }

    private void Applied(ulong index, ulong term)
    {
        Volatile.Write(ref _appliedTerm, term);
        Volatile.Write(ref _appliedIndex, index);
        Metrics.SetApplied(index);
        _appliedWait.Trigger(index);
    }

    private void FailOverwrittenProposals(ulong newTerm)
    {
        foreach (KeyValuePair<ulong, PendingProposal> pair in _waiters)
        {
            ulong proposedTerm = Volatile.Read(ref pair.Value.ProposedTerm);
            if (proposedTerm == 0 || proposedTerm >= newTerm) continue;
            if (_waiters.TryRemove(pair.Key, out PendingProposal? waiter)) waiter.Fail(EtcdServerError.LeaderChanged);
        }
    }

    // etcd's triggerSnapshot: every --snapshot-count applied entries. The backend is synced first,
    // since the snapshot lets the WAL forget what came before it.
    private void MaybeTriggerSnapshot()
    {
        ulong applied = Volatile.Read(ref _appliedIndex);
        if (applied - _snapshotIndex <= _options.Log.SnapshotCount) return;
        _logger.Write(StorageLogLevel.Info, "triggering snapshot", ("local-member-id", MemberIds.ToHex(MemberId)),
            ("local-member-applied-index", applied), ("local-member-snapshot-index", _snapshotIndex),
            ("local-member-snapshot-count", _options.Log.SnapshotCount));
        _target.Sync();
        _snapshotRequests.Enqueue(new SnapshotRequest(applied, Volatile.Read(ref _confState)));
        _snapshotIndex = applied;
        WakeRaft();
    }

    private void WakeRaftIfWaiting()
    {
        if (Volatile.Read(ref _raftWaitsForApply) != 0) WakeRaft();
    }
}
