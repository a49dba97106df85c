namespace Dotcd.Raft;

/// <summary>A deterministic random source; a failing simulation seed replays exactly.</summary>
public interface IRaftRandom
{
    /// <summary>A value in [0, maxExclusive).</summary>
    int Next(int maxExclusive);
}

/// <summary>SplitMix64: tiny, fast, and fully determined by its seed.</summary>
public sealed class SeededRaftRandom(ulong seed) : IRaftRandom
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive));
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }
}
