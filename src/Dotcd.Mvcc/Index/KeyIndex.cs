namespace Dotcd.Mvcc.Index;

/// <summary>One life of a key: from the put that created it to the tombstone that deleted it.</summary>
internal sealed class Generation
{
    public long Version;      // Puts in this generation so far (the tombstone counts too, as in etcd).
    public Revision Created;  // Revision of the first put of the generation.
    public readonly List<Revision> Revisions = new(2); // Ascending; in a closed generation the last is the tombstone.

    public bool IsEmpty => Revisions.Count == 0;

    // Index of the newest revision whose main revision is at or below atRev, or -1.
    public int FindAtOrBelow(long atRev)
    {
        for (int i = Revisions.Count - 1; i >= 0; i--)
        {
            if (Revisions[i].Main <= atRev)
            {
                return i;
            }
        }
        return -1;
    }
}

/// <summary>The history of one user key: its generations (etcd's keyIndex).</summary>
/// <remarks>
/// Example: put(1) put(2) delete(3) put(4) gives generations {1, 2, 3(tombstone)} {4}.
/// A key deleted last ends with an empty generation: {1, 2, 3(tombstone)} {}.
/// Invariant: every generation but the last is closed by a tombstone; only the last may be empty.
/// </remarks>
internal sealed class KeyIndex
{
    public readonly byte[] Key;
    public Revision Modified; // Newest revision of any change to the key, tombstones included.
    public readonly List<Generation> Generations = new(1);

    public KeyIndex(byte[] key) => Key = key;

    /// <summary>True once compaction removed every generation that mattered.</summary>
    public bool IsEmpty => Generations.Count == 1 && Generations[0].IsEmpty;

    /// <summary>True when the key exists at the newest revision.</summary>
    public bool IsLive => Generations.Count > 0 && !Generations[^1].IsEmpty;

    public void Put(Revision revision)
    {
        if (revision <= Modified)
        {
            throw new InvalidOperationException(
                $"put of key revision {revision} not above the last modification {Modified}");
        }
        if (Generations.Count == 0)
        {
            Generations.Add(new Generation());
        }
        Generation g = Generations[^1];
        if (g.IsEmpty)
        {
            g.Created = revision;
        }
        g.Revisions.Add(revision);
        g.Version++;
        Modified = revision;
    }

    /// <summary>Starts the index of a key first seen while rebuilding from the backend.</summary>
    public void Restore(Revision created, Revision modified, long version)
    {
        if (Generations.Count != 0)
        {
            throw new InvalidOperationException("restore of a key index that already has generations");
        }
        Modified = modified;
        var g = new Generation { Created = created, Version = version };
        g.Revisions.Add(modified);
        Generations.Add(g);
    }

    /// <summary>Records a delete; false when the key does not exist at its newest revision.</summary>
    public bool Tombstone(Revision revision)
    {
        if (IsEmpty)
        {
            throw new InvalidOperationException("tombstone on an empty key index");
        }
        if (Generations.Count == 0 || Generations[^1].IsEmpty)
        {
            return false;
        }
        Put(revision);
        Generations.Add(new Generation());
        return true;
    }

    /// <summary>The key's state at atRev: its revision, creation revision and version.</summary>
    public bool TryGet(long atRev, out Revision modified, out Revision created, out long version)
    {
        Generation? g = FindGeneration(atRev);
        if (g is not null)
        {
            int n = g.FindAtOrBelow(atRev);
            if (n >= 0)
            {
                modified = g.Revisions[n];
                created = g.Created;
                version = g.Version - (g.Revisions.Count - n - 1);
                return true;
            }
        }
        modified = default;
        created = default;
        version = 0;
        return false;
    }

    // The generation holding the key's state at rev, or null when the key did not exist then.
    private Generation? FindGeneration(long rev)
    {
        int last = Generations.Count - 1;
        for (int cg = last; cg >= 0; cg--)
        {
            Generation g = Generations[cg];
            if (g.IsEmpty)
            {
                continue;
            }
            if (cg != last && g.Revisions[^1].Main <= rev)
            {
                return null; // Deleted at or before rev: the tombstone closes this generation.
            }
            if (g.Revisions[0].Main <= rev)
            {
                return g;
            }
        }
        return null;
    }

    /// <summary>Revisions of changes at or after rev, one per main revision (the last change
    /// within a main revision wins), as etcd's keyIndex.since.</summary>
    public void Since(long rev, List<Revision> output)
    {
        var since = new Revision(rev, 0);
        int gi;
        for (gi = Generations.Count - 1; gi > 0; gi--)
        {
            Generation g = Generations[gi];
            if (g.IsEmpty)
            {
                continue;
            }
            if (since > g.Created)
            {
                break;
            }
        }
        int start = output.Count;
        long last = 0;
        for (; gi < Generations.Count; gi++)
        {
            foreach (Revision r in Generations[gi].Revisions)
            {
                if (since > r)
                {
                    continue;
                }
                if (r.Main == last && output.Count > start)
                {
                    output[^1] = r;
                    continue;
                }
                output.Add(r);
                last = r.Main;
            }
        }
    }

    // Finds where compaction at atRev stops: the first generation not closed at or below atRev,
    // and inside it the newest revision at or below atRev (-1 if none).
    private (int GenerationIndex, int RevisionIndex) FindCompactionPoint(long atRev)
    {
        int genIdx = 0;
        Generation g = Generations[0];
        while (genIdx < Generations.Count - 1)
        {
            if (g.Revisions[^1].Main > atRev)
            {
                break;
            }
            genIdx++;
            g = Generations[genIdx];
        }
        return (genIdx, g.FindAtOrBelow(atRev));
    }

    /// <summary>Drops history superseded at atRev, keeping the newest revision at or below atRev
    /// of a key still alive then (etcd's keyIndex.compact); adds each dropped revision to garbage.</summary>
    public void Compact(long atRev, List<CompactedRevision> garbage)
    {
        if (IsEmpty)
        {
            throw new InvalidOperationException("compaction of an empty key index");
        }
        (int genIdx, int revIndex) = FindCompactionPoint(atRev);
        Generation g = Generations[genIdx];
        if (!g.IsEmpty)
        {
            if (revIndex > 0)
            {
                for (int i = 0; i < revIndex; i++)
                {
                    garbage.Add(new CompactedRevision(g.Revisions[i], Tombstone: false));
                }
                g.Revisions.RemoveRange(0, revIndex);
            }
            if (g.Revisions.Count == 1 && genIdx != Generations.Count - 1)
            {
                // Only the tombstone is left: the whole generation goes.
                genIdx++;
            }
        }
        for (int gi = 0; gi < genIdx; gi++)
        {
            List<Revision> revs = Generations[gi].Revisions;
            for (int i = 0; i < revs.Count; i++)
            {
                garbage.Add(new CompactedRevision(revs[i], Tombstone: i == revs.Count - 1));
            }
        }
        Generations.RemoveRange(0, genIdx);
    }

    /// <summary>Adds the revision compaction at atRev would keep for this key (etcd's keyIndex.keep).</summary>
    public void Keep(long atRev, HashSet<Revision> available)
    {
        if (IsEmpty)
        {
            return;
        }
        (int genIdx, int revIndex) = FindCompactionPoint(atRev);
        Generation g = Generations[genIdx];
        if (g.IsEmpty || revIndex < 0)
        {
            return;
        }
        bool tombstoneOfClosedGeneration = revIndex == g.Revisions.Count - 1 && genIdx != Generations.Count - 1;
        if (!tombstoneOfClosedGeneration)
        {
            available.Add(g.Revisions[revIndex]);
        }
    }

    /// <summary>Adds every revision the index still holds at or below atRev.</summary>
    public void CollectAtOrBelow(long atRev, HashSet<Revision> output)
    {
        foreach (Generation g in Generations)
        {
            foreach (Revision r in g.Revisions)
            {
                if (r.Main > atRev)
                {
                    return;
                }
                output.Add(r);
            }
        }
    }
}

/// <summary>A row of the <c>key</c> bucket that compaction made unreachable.</summary>
internal readonly record struct CompactedRevision(Revision Revision, bool Tombstone);
