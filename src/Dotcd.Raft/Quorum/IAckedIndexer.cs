namespace Dotcd.Raft.Quorum;

/// <summary>Answers the highest log index a voter is known to have persisted.</summary>
internal interface IAckedIndexer
{
    /// <summary>False when nothing is known about the voter (it counts as having acked nothing).</summary>
    bool TryGetAckedIndex(ulong voterId, out ulong index);
}

/// <summary>The outcome of an election as far as the votes received so far decide it.</summary>
internal enum VoteResult
{
    Pending = 1, // Neither side holds a quorum yet; the missing votes decide.
    Lost = 2,    // A quorum can no longer say yes.
    Won = 3,     // A quorum said yes.
}
