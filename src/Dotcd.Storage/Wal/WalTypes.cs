using Dotcd.Raft;

namespace Dotcd.Storage;

/// <summary>
/// A snapshot marker: the WAL records that a snapshot file at (Index, Term) was saved, so replay can
/// start after it. Two markers are the same snapshot when Index and Term agree; ConfState is carried
/// along (etcd 3.5 writes it too) and not compared.
/// </summary>
public readonly record struct WalSnapshot(ulong Index, ulong Term)
{
    /// <summary>The empty marker every new WAL starts with: replay from the beginning.</summary>
    public static readonly WalSnapshot Zero = default;

    public ConfState? ConfState { get; init; }

    public bool Equals(WalSnapshot other) => Index == other.Index && Term == other.Term;

    public override int GetHashCode() => HashCode.Combine(Index, Term);

    /// <summary>The marker of a raft snapshot.</summary>
    public static WalSnapshot Of(Snapshot snapshot) =>
        new(snapshot.Metadata.Index, snapshot.Metadata.Term) { ConfState = snapshot.Metadata.ConfState };
}

/// <summary>What a WAL replays on restart.</summary>
/// <param name="Metadata">The bytes given to Create (node id, cluster id).</param>
/// <param name="HardState">The last HardState saved (Empty if none was).</param>
/// <param name="Entries">The log after the snapshot replay started from, consecutive, conflicts resolved as raft appended them.</param>
public sealed record WalContents(ReadOnlyMemory<byte> Metadata, HardState HardState, IReadOnlyList<Entry> Entries);
