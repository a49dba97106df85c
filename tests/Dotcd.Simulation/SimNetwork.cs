namespace Dotcd.Simulation;

/// <summary>
/// The network's fault settings and partitions. The simulator asks it, per message, whether the
/// message is lost, duplicated and how late it arrives; delivery is an event on the simulated clock.
/// Links are symmetric; clients sit outside every partition (they reach every member).
/// </summary>
public sealed class SimNetwork
{
    private readonly SimRandom _random;
    private readonly Dictionary<ulong, int> _group = []; // node -> partition group; absent: group 0

    public SimNetwork(SimRandom random) => _random = random;

    /// <summary>Probability that a message is lost.</summary>
    public double DropRate { get; set; }

    /// <summary>Probability that a message arrives twice.</summary>
    public double DuplicateRate { get; set; }

    /// <summary>Smallest one-way delay in milliseconds.</summary>
    public int MinDelay { get; set; } = 1;

    /// <summary>Largest one-way delay in milliseconds; a wide range reorders messages.</summary>
    public int MaxDelay { get; set; } = 10;

    /// <summary>Probability that a message is held back much longer than MaxDelay (reordering).</summary>
    public double LongDelayRate { get; set; }

    /// <summary>Upper bound of a long delay in milliseconds.</summary>
    public int LongDelayMax { get; set; } = 500;

    public bool IsPartitioned => _group.Count > 0;

    public bool Connected(ulong a, ulong b) => GroupOf(a) == GroupOf(b);

    public int GroupOf(ulong node) => _group.TryGetValue(node, out int g) ? g : 0;

    /// <summary>Splits the nodes into groups; nodes not listed stay in group 0.</summary>
    public void Partition(IReadOnlyList<IReadOnlyList<ulong>> groups)
    {
        _group.Clear();
        for (int g = 0; g < groups.Count; g++)
        {
            foreach (ulong id in groups[g]) _group[id] = g + 1;
        }
    }

    public void Heal() => _group.Clear();

    /// <summary>Back to a well-behaved network: no loss, duplication or long delays.</summary>
    public void Calm()
    {
        DropRate = 0;
        DuplicateRate = 0;
        LongDelayRate = 0;
    }

    public bool ShouldDrop() => _random.Chance(DropRate);

    public bool ShouldDuplicate() => _random.Chance(DuplicateRate);

    public long Delay()
    {
        if (_random.Chance(LongDelayRate)) return _random.Range(MaxDelay, LongDelayMax);
        return _random.Range(MinDelay, MaxDelay);
    }

    public string Describe()
    {
        if (_group.Count == 0) return "connected";
        var groups = new SortedDictionary<int, List<ulong>>();
        foreach (var (id, g) in _group.OrderBy(p => p.Key))
        {
            if (!groups.TryGetValue(g, out List<ulong>? list)) groups[g] = list = [];
            list.Add(id);
        }
        return string.Join(" | ", groups.Values.Select(l => string.Join(",", l)));
    }
}
