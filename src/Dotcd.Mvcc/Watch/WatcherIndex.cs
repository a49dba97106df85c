namespace Dotcd.Mvcc.Watch;

/// <summary>
/// Finds the watchers whose range holds a key without looking at any other watcher: single-key
/// watchers by hash, range watchers in an interval treap (etcd's watcherGroup: a key map plus an
/// interval tree). Watchers with the same range share one node. Not thread-safe: the
/// <see cref="WatchableStore"/>'s lock guards it.
/// </summary>
internal sealed class WatcherIndex
{
    // A key or interval watched once holds its Watcher directly; a HashSet<Watcher> only once two
    // watchers share it (a set per watcher would cost more than the watcher).
    private readonly Dictionary<byte[], object> _keys = new(ByteArrayComparer.Instance);
    private IntervalNode? _root;
    private uint _priorities = 0x9E3779B9; // xorshift state: treap priorities need only be well spread.

    public int Count { get; private set; }

    public void Add(Watcher w)
    {
        if (w.End is null)
        {
            ref object? slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_keys, w.Key, out _);
            slot = AddTo(slot, w);
        }
        else
        {
            _root = Insert(_root, w);
        }
        Count++;
    }

    public void Remove(Watcher w)
    {
        if (w.End is null)
        {
            if (_keys.TryGetValue(w.Key, out object? slot) && RemoveFrom(ref slot, w))
            {
                Count--;
                if (slot is null)
                {
                    _keys.Remove(w.Key);
                }
                else
                {
                    _keys[w.Key] = slot;
                }
            }
            return;
        }
        bool removed = false;
        _root = Delete(_root, w, ref removed);
        if (removed)
        {
            Count--;
        }
    }

    /// <summary>Appends every watcher whose range holds key (before filters and revisions).</summary>
    public void Match(ReadOnlySpan<byte> key, List<Watcher> output)
    {
        if (_keys.Count > 0 && _keys.GetAlternateLookup<ReadOnlySpan<byte>>().TryGetValue(key, out object? slot))
        {
            AppendAll(slot, output);
        }
        Stab(_root, key, output);
    }

    /// <summary>Every watcher in the index (tests and shutdown).</summary>
    public List<Watcher> All()
    {
        var all = new List<Watcher>();
        foreach (object slot in _keys.Values)
        {
            AppendAll(slot, all);
        }
        var stack = new Stack<IntervalNode>();
        if (_root is not null)
        {
            stack.Push(_root);
        }
        while (stack.Count > 0)
        {
            IntervalNode n = stack.Pop();
            AppendAll(n.Watchers!, all);
            if (n.Left is not null)
            {
                stack.Push(n.Left);
            }
            if (n.Right is not null)
            {
                stack.Push(n.Right);
            }
        }
        return all;
    }

    private static object AddTo(object? slot, Watcher w)
    {
        switch (slot)
        {
            case null:
                return w;
            case Watcher single:
                return new HashSet<Watcher>(ReferenceEqualityComparer.Instance) { single, w };
            default:
                ((HashSet<Watcher>)slot).Add(w);
                return slot;
        }
    }

    // Removes w from the slot; the slot becomes null when it held only w.
    private static bool RemoveFrom(ref object? slot, Watcher w)
    {
        switch (slot)
        {
            case Watcher single:
                if (!ReferenceEquals(single, w))
                {
                    return false;
                }
                slot = null;
                return true;
            case HashSet<Watcher> set:
                if (!set.Remove(w))
                {
                    return false;
                }
                if (set.Count == 1)
                {
                    slot = set.First();
                }
                return true;
            default:
                return false;
        }
    }

    private static void AppendAll(object slot, List<Watcher> output)
    {
        if (slot is Watcher single)
        {
            output.Add(single);
            return;
        }
        foreach (Watcher w in (HashSet<Watcher>)slot)
        {
            output.Add(w);
        }
    }

    // A treap node: ordered by (Start, End), heap-ordered by Priority, augmented with the
    // largest End in its subtree so a stabbing query skips subtrees that end before the key.
    // An empty End means "no end" (every key >= Start) and is the largest.
    private sealed class IntervalNode(byte[] start, byte[] end, uint priority)
    {
        public readonly byte[] Start = start;
        public readonly byte[] End = end;
        public readonly uint Priority = priority;
        public object? Watchers;   // A Watcher, or a HashSet<Watcher> of two or more.
        public IntervalNode? Left;
        public IntervalNode? Right;
        public byte[] MaxEnd = end;

        public void Update()
        {
            byte[] max = End;
            if (Left is not null && CompareEnd(Left.MaxEnd, max) > 0)
            {
                max = Left.MaxEnd;
            }
            if (Right is not null && CompareEnd(Right.MaxEnd, max) > 0)
            {
                max = Right.MaxEnd;
            }
            MaxEnd = max;
        }
    }

    private static int CompareEnd(byte[] a, byte[] b)
    {
        if (a.Length == 0 || b.Length == 0)
        {
            return (a.Length == 0 ? 1 : 0) - (b.Length == 0 ? 1 : 0);
        }
        return a.AsSpan().SequenceCompareTo(b);
    }

    private static int CompareInterval(byte[] start, byte[] end, IntervalNode n)
    {
        int c = start.AsSpan().SequenceCompareTo(n.Start);
        return c != 0 ? c : CompareEnd(end, n.End);
    }

    private uint NextPriority()
    {
        uint x = _priorities;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        _priorities = x;
        return x;
    }

    private IntervalNode Insert(IntervalNode? n, Watcher w)
    {
        if (n is null)
        {
            return new IntervalNode(w.Key, w.End!, NextPriority()) { Watchers = w };
        }
        int c = CompareInterval(w.Key, w.End!, n);
        if (c == 0)
        {
            n.Watchers = AddTo(n.Watchers, w);
            return n;
        }
        if (c < 0)
        {
            n.Left = Insert(n.Left, w);
            if (n.Left.Priority > n.Priority)
            {
                n = RotateRight(n);
            }
        }
        else
        {
            n.Right = Insert(n.Right, w);
            if (n.Right.Priority > n.Priority)
            {
                n = RotateLeft(n);
            }
        }
        n.Update();
        return n;
    }

    private static IntervalNode? Delete(IntervalNode? n, Watcher w, ref bool removed)
    {
        if (n is null)
        {
            return null;
        }
        int c = CompareInterval(w.Key, w.End!, n);
        if (c < 0)
        {
            n.Left = Delete(n.Left, w, ref removed);
        }
        else if (c > 0)
        {
            n.Right = Delete(n.Right, w, ref removed);
        }
        else
        {
            removed = RemoveFrom(ref n.Watchers, w);
            if (n.Watchers is null)
            {
                return RemoveNode(n);
            }
        }
        n.Update();
        return n;
    }

    // Rotates an emptied node down until it is a leaf or has one child, then drops it.
    private static IntervalNode? RemoveNode(IntervalNode n)
    {
        if (n.Left is null)
        {
            return n.Right;
        }
        if (n.Right is null)
        {
            return n.Left;
        }
        IntervalNode top;
        if (n.Left.Priority > n.Right.Priority)
        {
            top = RotateRight(n);
            top.Right = RemoveNode(n);
        }
        else
        {
            top = RotateLeft(n);
            top.Left = RemoveNode(n);
        }
        top.Update();
        return top;
    }

    private static IntervalNode RotateRight(IntervalNode n)
    {
        IntervalNode l = n.Left!;
        n.Left = l.Right;
        l.Right = n;
        n.Update();
        l.Update();
        return l;
    }

    private static IntervalNode RotateLeft(IntervalNode n)
    {
        IntervalNode r = n.Right!;
        n.Right = r.Left;
        r.Left = n;
        n.Update();
        r.Update();
        return r;
    }

    private static void Stab(IntervalNode? n, ReadOnlySpan<byte> key, List<Watcher> output)
    {
        while (n is not null)
        {
            // Every interval below ends at or before key: none holds it (ends are exclusive).
            if (n.MaxEnd.Length != 0 && key.SequenceCompareTo(n.MaxEnd) >= 0)
            {
                return;
            }
            Stab(n.Left, key, output);
            if (key.SequenceCompareTo(n.Start) < 0)
            {
                return; // The node and its right subtree start after key.
            }
            if (n.End.Length == 0 || key.SequenceCompareTo(n.End) < 0)
            {
                AppendAll(n.Watchers!, output);
            }
            n = n.Right;
        }
    }
}

/// <summary>Byte-wise equality for byte[] dictionary keys, with span lookups.</summary>
internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

    public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

    public int GetHashCode(ReadOnlySpan<byte> alternate)
    {
        var hash = new HashCode();
        hash.AddBytes(alternate);
        return hash.ToHashCode();
    }

    public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
}
