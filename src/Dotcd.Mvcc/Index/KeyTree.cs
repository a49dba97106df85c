namespace Dotcd.Mvcc.Index;

/// <summary>Key indexes ordered by key: a list of sorted leaves (a two-level B+ tree).</summary>
/// <remarks>
/// Lookups binary-search the leaves by their first key, then the leaf. Inserts shift at most one
/// leaf and split it when full, so a million keys cost ~4000 leaves and no large array moves.
/// Invariants: leaves are non-empty unless the tree is empty (then one empty leaf); keys strictly
/// ascend across the concatenation of all leaves. Not thread-safe: the owner locks.
/// </remarks>
internal sealed class KeyTree
{
    private const int LeafCapacity = 256;

    private readonly List<Leaf> _leaves = [new Leaf()];
    private int _count;

    public int Count => _count;

    private sealed class Leaf
    {
        public readonly KeyIndex[] Items = new KeyIndex[LeafCapacity];
        public int Count;
    }

    /// <summary>A position: leaf number and slot. Valid until the tree changes.</summary>
    public struct Cursor
    {
        internal int Leaf;
        internal int Slot;
    }

    public KeyIndex? Get(ReadOnlySpan<byte> key)
    {
        Leaf leaf = _leaves[FindLeaf(key)];
        int slot = Search(leaf, key);
        return slot >= 0 ? leaf.Items[slot] : null;
    }

    /// <summary>Adds a key index whose key is not in the tree yet.</summary>
    public void Insert(KeyIndex item)
    {
        int li = FindLeaf(item.Key);
        Leaf leaf = _leaves[li];
        int slot = Search(leaf, item.Key);
        if (slot >= 0)
        {
            throw new InvalidOperationException("key already indexed");
        }
        slot = ~slot;
        if (leaf.Count == LeafCapacity)
        {
            // Split in halves; the new leaf takes the upper half.
            var right = new Leaf();
            int half = LeafCapacity / 2;
            Array.Copy(leaf.Items, half, right.Items, 0, LeafCapacity - half);
            Array.Clear(leaf.Items, half, LeafCapacity - half);
            right.Count = LeafCapacity - half;
            leaf.Count = half;
            _leaves.Insert(li + 1, right);
            if (slot > half)
            {
                leaf = right;
                slot -= half;
            }
        }
        Array.Copy(leaf.Items, slot, leaf.Items, slot + 1, leaf.Count - slot);
        leaf.Items[slot] = item;
        leaf.Count++;
        _count++;
    }

    public bool Remove(ReadOnlySpan<byte> key)
    {
        int li = FindLeaf(key);
        Leaf leaf = _leaves[li];
        int slot = Search(leaf, key);
        if (slot < 0)
        {
            return false;
        }
        leaf.Count--;
        Array.Copy(leaf.Items, slot + 1, leaf.Items, slot, leaf.Count - slot);
        leaf.Items[leaf.Count] = null!;
        _count--;
        if (leaf.Count == 0 && _leaves.Count > 1)
        {
            _leaves.RemoveAt(li);
        }
        return true;
    }

    /// <summary>Positions a cursor on the first key at or above key.</summary>
    public Cursor Seek(ReadOnlySpan<byte> key)
    {
        int li = FindLeaf(key);
        int slot = Search(_leaves[li], key);
        var c = new Cursor { Leaf = li, Slot = slot >= 0 ? slot : ~slot };
        Normalize(ref c);
        return c;
    }

    public Cursor First()
    {
        var c = new Cursor();
        Normalize(ref c);
        return c;
    }

    /// <summary>The item under the cursor, advancing it; false at the end.</summary>
    public bool Next(ref Cursor cursor, out KeyIndex item)
    {
        if (cursor.Leaf >= _leaves.Count)
        {
            item = null!;
            return false;
        }
        item = _leaves[cursor.Leaf].Items[cursor.Slot];
        cursor.Slot++;
        Normalize(ref cursor);
        return true;
    }

    private void Normalize(ref Cursor c)
    {
        while (c.Leaf < _leaves.Count && c.Slot >= _leaves[c.Leaf].Count)
        {
            c.Leaf++;
            c.Slot = 0;
        }
    }

    // The last leaf whose first key is <= key (leaf 0 when key sorts before everything).
    private int FindLeaf(ReadOnlySpan<byte> key)
    {
        int lo = 1, hi = _leaves.Count - 1, result = 0;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_leaves[mid].Items[0].Key.AsSpan().SequenceCompareTo(key) <= 0)
            {
                result = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return result;
    }

    // Slot of key in the leaf, or the bitwise complement of its insertion point.
    private static int Search(Leaf leaf, ReadOnlySpan<byte> key)
    {
        int lo = 0, hi = leaf.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = leaf.Items[mid].Key.AsSpan().SequenceCompareTo(key);
            if (c == 0)
            {
                return mid;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return ~lo;
    }
}
