namespace Dotcd.Simulation;

/// <summary>
/// The simulation's only source of randomness: SplitMix64 from a seed, so a seed replays exactly.
/// Each subsystem forks its own stream, so that (for example) a client's extra draw does not shift
/// the network's delays; that keeps a replay readable when one part of the simulator changes.
/// </summary>
public sealed class SimRandom
{
    private ulong _state;

    public SimRandom(ulong seed) => _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A value in [0, maxExclusive).</summary>
    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive));
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    /// <summary>A value in [min, maxInclusive].</summary>
    public int Range(int min, int maxInclusive) => min + Next(maxInclusive - min + 1);

    /// <summary>A value in [min, maxInclusive].</summary>
    public long Range(long min, long maxInclusive) => min + (long)(NextUInt64() % (ulong)(maxInclusive - min + 1));

    /// <summary>True with probability p; p in [0, 1]. Integer math only, so it is the same on every machine.</summary>
    public bool Chance(double p)
    {
        if (p <= 0) return false;
        if (p >= 1) return true;
        return (NextUInt64() >> 11) < (ulong)(p * (1UL << 53));
    }

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>An independent stream derived from this one's seed and a salt; does not advance this one.</summary>
    public SimRandom Fork(ulong salt)
    {
        var mixer = new SimRandom(_state ^ (salt * 0xD1B54A32D192ED03UL));
        return new SimRandom(mixer.NextUInt64());
    }

    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
