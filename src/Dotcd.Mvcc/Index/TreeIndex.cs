namespace Dotcd.Mvcc.Index;

/// <summary>The in-memory key index (etcd's treeIndex): every key's generations, ordered by key.</summary>
/// <remarks>Not thread-safe: <see cref="MvccStore"/> guards it with one reader-writer lock.</remarks>
internal sealed class TreeIndex
{
    private readonly KeyTree _tree = new();

    public int KeyCount => _tree.Count;

    public KeyIndex? GetKeyIndex(ReadOnlySpan<byte> key) => _tree.Get(key);

    public void Insert(KeyIndex keyIndex) => _tree.Insert(keyIndex);

    public bool TryGet(ReadOnlySpan<byte> key, long atRev, out Revision modified, out Revision created, out long version)
    {
        KeyIndex? ki = _tree.Get(key);
        if (ki is null)
        {
            modified = default;
            created = default;
            version = 0;
            return false;
        }
        return ki.TryGet(atRev, out modified, out created, out version);
    }

    /// <summary>Records a put; key is copied only when the key is new.</summary>
    public void Put(ReadOnlySpan<byte> key, Revision revision)
    {
        KeyIndex? ki = _tree.Get(key);
        if (ki is null)
        {
            ki = new KeyIndex(key.ToArray());
            ki.Put(revision);
            _tree.Insert(ki);
            return;
        }
        ki.Put(revision);
    }

    public bool Tombstone(ReadOnlySpan<byte> key, Revision revision)
    {
        KeyIndex? ki = _tree.Get(key);
        return ki is not null && ki.Tombstone(revision);
    }

    /// <summary>Visits the keys of the range alive at atRev in key order with their revision there.
    /// The visitor returns false to stop.</summary>
    public void Visit<TVisitor>(in KeyRange range, long atRev, ref TVisitor visitor)
        where TVisitor : struct, IIndexVisitor
    {
        if (range.Kind == KeyRangeKind.Single)
        {
            KeyIndex? ki = _tree.Get(range.Key.Span);
            if (ki is not null && ki.TryGet(atRev, out Revision rev, out Revision created, out long version))
            {
                visitor.Visit(ki, rev, created, version);
            }
            return;
        }
        KeyTree.Cursor cursor = _tree.Seek(range.Key.Span);
        while (_tree.Next(ref cursor, out KeyIndex item))
        {
            if (range.IsPastEnd(item.Key))
            {
                return;
            }
            if (item.TryGet(atRev, out Revision rev, out Revision created, out long version)
                && !visitor.Visit(item, rev, created, version))
            {
                return;
            }
        }
    }

    /// <summary>Revisions of changes to keys in the range at or after rev, sorted by revision
    /// (etcd's RangeSince, used to catch watchers up).</summary>
    public List<Revision> RangeSince(in KeyRange range, long rev)
    {
        var revs = new List<Revision>();
        if (range.Kind == KeyRangeKind.Single)
        {
            _tree.Get(range.Key.Span)?.Since(rev, revs);
            return revs;
        }
        KeyTree.Cursor cursor = _tree.Seek(range.Key.Span);
        while (_tree.Next(ref cursor, out KeyIndex item) && !range.IsPastEnd(item.Key))
        {
            item.Since(rev, revs);
        }
        revs.Sort();
        return revs;
    }

    /// <summary>Compacts every key at rev, dropping keys with no history left; returns the rows
    /// the backend may delete.</summary>
    public List<CompactedRevision> Compact(long rev)
    {
        var garbage = new List<CompactedRevision>();
        List<byte[]>? emptied = null;
        KeyTree.Cursor cursor = _tree.First();
        while (_tree.Next(ref cursor, out KeyIndex item))
        {
            item.Compact(rev, garbage);
            if (item.IsEmpty)
            {
                (emptied ??= []).Add(item.Key);
            }
        }
        if (emptied is not null)
        {
            foreach (byte[] key in emptied)
            {
                _tree.Remove(key);
            }
        }
        return garbage;
    }

    /// <summary>The revisions a compaction at rev would keep (etcd's treeIndex.Keep).</summary>
    public HashSet<Revision> Keep(long rev)
    {
        var available = new HashSet<Revision>();
        KeyTree.Cursor cursor = _tree.First();
        while (_tree.Next(ref cursor, out KeyIndex item))
        {
            item.Keep(rev, available);
        }
        return available;
    }

    /// <summary>Every revision at or below rev that the index still references.</summary>
    public HashSet<Revision> CollectAtOrBelow(long rev)
    {
        var output = new HashSet<Revision>();
        KeyTree.Cursor cursor = _tree.First();
        while (_tree.Next(ref cursor, out KeyIndex item))
        {
            item.CollectAtOrBelow(rev, output);
        }
        return output;
    }

    /// <summary>Keys alive at their newest revision, in key order.</summary>
    public IEnumerable<KeyIndex> LiveKeys()
    {
        KeyTree.Cursor cursor = _tree.First();
        while (_tree.Next(ref cursor, out KeyIndex item))
        {
            if (item.IsLive)
            {
                yield return item;
            }
        }
    }
}

/// <summary>Receives keys from <see cref="TreeIndex.Visit"/>; a struct so the walk is not a closure.</summary>
internal interface IIndexVisitor
{
    bool Visit(KeyIndex keyIndex, Revision revision, Revision created, long version);
}
