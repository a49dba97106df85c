using Dotcd.Mvcc;

namespace Dotcd.Server.Apply;

/// <summary>Answers whether a lease exists when a put attaches it (etcd's lessor.Lookup).</summary>
public interface ILeaseLookup
{
    bool Exists(long leaseId);
}

/// <summary>
/// Keeps each lease's set of attached keys in step with the applier's writes (etcd's mvcc calls
/// lessor.Attach and Detach from put and delete): a put attaches its key to its lease and
/// detaches it from the one it had, a delete detaches it.
/// </summary>
public interface ILeaseAttachments
{
    /// <summary>Called on the apply thread with one write txn's changes, in order.</summary>
    void Track(IReadOnlyList<MvccChange> changes);
}
