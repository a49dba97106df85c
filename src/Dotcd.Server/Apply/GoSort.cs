using System.Numerics;

namespace Dotcd.Server.Apply;

/// <summary>Go 1.19's sort.Sort (pattern-defeating quicksort), reproduced step for step so that keys
/// with equal sort values come back in the same order as from etcd (which is built with Go 1.19).
/// Not stable, deterministic.</summary>
internal static class GoSort
{
    private const int MaxInsertion = 12;

    private enum Hint
    {
        Unknown,
        Increasing,
        Decreasing,
    }

    /// <summary>Sorts items by compare; descending sorts by the reversed order (Go's sort.Reverse).</summary>
    public static void Sort<T>(List<T> items, Comparison<T> compare, bool descending = false)
    {
        var data = new Data<T>(items, compare, descending);
        int n = items.Count;
        if (n <= 1)
        {
            return;
        }
        int limit = BitOperations.Log2((uint)n) + 1; // Go's bits.Len
        Pdqsort(data, 0, n, limit);
    }

    private readonly struct Data<T>(List<T> items, Comparison<T> compare, bool descending)
    {
        public bool Less(int i, int j) => descending ? compare(items[j], items[i]) < 0 : compare(items[i], items[j]) < 0;

        public void Swap(int i, int j) => (items[i], items[j]) = (items[j], items[i]);
    }

    private static void InsertionSort<T>(Data<T> data, int a, int b)
    {
        for (int i = a + 1; i < b; i++)
        {
            for (int j = i; j > a && data.Less(j, j - 1); j--)
            {
                data.Swap(j, j - 1);
            }
        }
    }

    private static void SiftDown<T>(Data<T> data, int lo, int hi, int first)
    {
        int root = lo;
        while (true)
        {
            int child = 2 * root + 1;
            if (child >= hi)
            {
                return;
            }
            if (child + 1 < hi && data.Less(first + child, first + child + 1))
            {
                child++;
            }
            if (!data.Less(first + root, first + child))
            {
                return;
            }
            data.Swap(first + root, first + child);
            root = child;
        }
    }

    private static void HeapSort<T>(Data<T> data, int a, int b)
    {
        int first = a, lo = 0, hi = b - a;
        for (int i = (hi - 1) / 2; i >= 0; i--)
        {
            SiftDown(data, i, hi, first);
        }
        for (int i = hi - 1; i >= 0; i--)
        {
            data.Swap(first, first + i);
            SiftDown(data, lo, i, first);
        }
    }

    private static void Pdqsort<T>(Data<T> data, int a, int b, int limit)
    {
        bool wasBalanced = true, wasPartitioned = true;
        while (true)
        {
            int length = b - a;
            if (length <= MaxInsertion)
            {
                InsertionSort(data, a, b);
                return;
            }
            if (limit == 0)
            {
                HeapSort(data, a, b);
                return;
            }
            if (!wasBalanced)
            {
                BreakPatterns(data, a, b);
                limit--;
            }
            (int pivot, Hint hint) = ChoosePivot(data, a, b);
            if (hint == Hint.Decreasing)
            {
                ReverseRange(data, a, b);
                pivot = (b - 1) - (pivot - a);
                hint = Hint.Increasing;
            }
            if (wasBalanced && wasPartitioned && hint == Hint.Increasing && PartialInsertionSort(data, a, b))
            {
                return;
            }
            if (a > 0 && !data.Less(a - 1, pivot))
            {
                a = PartitionEqual(data, a, b, pivot);
                continue;
            }
            (int mid, bool alreadyPartitioned) = Partition(data, a, b, pivot);
            wasPartitioned = alreadyPartitioned;
            int leftLen = mid - a, rightLen = b - mid;
            int balanceThreshold = length / 8;
            if (leftLen < rightLen)
            {
                wasBalanced = leftLen >= balanceThreshold;
                Pdqsort(data, a, mid, limit);
                a = mid + 1;
            }
            else
            {
                wasBalanced = rightLen >= balanceThreshold;
                Pdqsort(data, mid + 1, b, limit);
                b = mid;
            }
        }
    }

    private static (int Pivot, bool AlreadyPartitioned) Partition<T>(Data<T> data, int a, int b, int pivot)
    {
        data.Swap(a, pivot);
        int i = a + 1, j = b - 1;
        while (i <= j && data.Less(i, a))
        {
            i++;
        }
        while (i <= j && !data.Less(j, a))
        {
            j--;
        }
        if (i > j)
        {
            data.Swap(j, a);
            return (j, true);
        }
        data.Swap(i, j);
        i++;
        j--;
        while (true)
        {
            while (i <= j && data.Less(i, a))
            {
                i++;
            }
            while (i <= j && !data.Less(j, a))
            {
                j--;
            }
            if (i > j)
            {
                break;
            }
            data.Swap(i, j);
            i++;
            j--;
        }
        data.Swap(j, a);
        return (j, false);
    }

    private static int PartitionEqual<T>(Data<T> data, int a, int b, int pivot)
    {
        data.Swap(a, pivot);
        int i = a + 1, j = b - 1;
        while (true)
        {
            while (i <= j && !data.Less(a, i))
            {
                i++;
            }
            while (i <= j && data.Less(a, j))
            {
                j--;
            }
            if (i > j)
            {
                break;
            }
            data.Swap(i, j);
            i++;
            j--;
        }
        return i;
    }

    private static bool PartialInsertionSort<T>(Data<T> data, int a, int b)
    {
        const int maxSteps = 5, shortestShifting = 50;
        int i = a + 1;
        for (int step = 0; step < maxSteps; step++)
        {
            while (i < b && !data.Less(i, i - 1))
            {
                i++;
            }
            if (i == b)
            {
                return true;
            }
            if (b - a < shortestShifting)
            {
                return false;
            }
            data.Swap(i, i - 1);
            if (i - a >= 2)
            {
                // Go shifts down to index 1, not to a; kept for identical results.
                for (int j = i - 1; j >= 1; j--)
                {
                    if (!data.Less(j, j - 1))
                    {
                        break;
                    }
                    data.Swap(j, j - 1);
                }
            }
            if (b - i >= 2)
            {
                for (int j = i + 1; j < b; j++)
                {
                    if (!data.Less(j, j - 1))
                    {
                        break;
                    }
                    data.Swap(j, j - 1);
                }
            }
        }
        return false;
    }

    private static void BreakPatterns<T>(Data<T> data, int a, int b)
    {
        int length = b - a;
        if (length < 8)
        {
            return;
        }
        ulong random = (ulong)length; // Go's xorshift seeded with the length.
        uint modulus = 1u << (BitOperations.Log2((uint)length) + 1);
        for (int idx = a + (length / 4) * 2 - 1; idx <= a + (length / 4) * 2 + 1; idx++)
        {
            random ^= random << 13;
            random ^= random >> 17;
            random ^= random << 5;
            int other = (int)((uint)random & (modulus - 1));
            if (other >= length)
            {
                other -= length;
            }
            data.Swap(idx, a + other);
        }
    }

    private static (int Pivot, Hint Hint) ChoosePivot<T>(Data<T> data, int a, int b)
    {
        const int shortestNinther = 50, maxSwaps = 4 * 3;
        int l = b - a;
        int swaps = 0;
        int i = a + l / 4 * 1, j = a + l / 4 * 2, k = a + l / 4 * 3;
        if (l >= 8)
        {
            if (l >= shortestNinther)
            {
                i = MedianAdjacent(data, i, ref swaps);
                j = MedianAdjacent(data, j, ref swaps);
                k = MedianAdjacent(data, k, ref swaps);
            }
            j = Median(data, i, j, k, ref swaps);
        }
        return swaps switch
        {
            0 => (j, Hint.Increasing),
            maxSwaps => (j, Hint.Decreasing),
            _ => (j, Hint.Unknown),
        };
    }

    private static (int, int) Order2<T>(Data<T> data, int a, int b, ref int swaps)
    {
        if (data.Less(b, a))
        {
            swaps++;
            return (b, a);
        }
        return (a, b);
    }

    private static int Median<T>(Data<T> data, int a, int b, int c, ref int swaps)
    {
        (a, b) = Order2(data, a, b, ref swaps);
        (b, c) = Order2(data, b, c, ref swaps);
        (a, b) = Order2(data, a, b, ref swaps);
        _ = c;
        return b;
    }

    private static int MedianAdjacent<T>(Data<T> data, int a, ref int swaps) => Median(data, a - 1, a, a + 1, ref swaps);

    private static void ReverseRange<T>(Data<T> data, int a, int b)
    {
        for (int i = a, j = b - 1; i < j; i++, j--)
        {
            data.Swap(i, j);
        }
    }
}
