namespace Dotcd.Simulation.Linearizability;

/// <summary>Key-value operations the simulation's clients perform.</summary>
public enum KvOp : byte
{
    Get,
    Put,
    Delete,
    Cas,
}

/// <summary>A call on one key. Cas sets <see cref="Value"/> if the key holds <see cref="Expected"/>
/// (Absent expects no key: create-if-missing, like an etcd Txn on version == 0).</summary>
public readonly record struct KvInput(KvOp Op, string Key, KvValue Value, KvValue Expected)
{
    public static KvInput Get(string key) => new(KvOp.Get, key, KvValue.Absent, KvValue.Absent);

    public static KvInput Put(string key, KvValue value) => new(KvOp.Put, key, value, KvValue.Absent);

    public static KvInput Delete(string key) => new(KvOp.Delete, key, KvValue.Absent, KvValue.Absent);

    public static KvInput Cas(string key, KvValue expected, KvValue value) => new(KvOp.Cas, key, value, expected);
}

/// <summary>What a call returned. <see cref="IsUnknown"/> marks a call whose answer was never seen;
/// the model accepts it in any state. <see cref="Succeeded"/> is the Cas outcome, or for Delete
/// whether a key was deleted; null means "not checked".</summary>
public readonly record struct KvOutput(bool IsUnknown, KvValue Value, bool? Succeeded)
{
    /// <summary>The answer never arrived.</summary>
    public static KvOutput Unknown => new(true, KvValue.Absent, null);

    /// <summary>A Put, or a Delete whose count is not checked, completed.</summary>
    public static KvOutput Done => new(false, KvValue.Absent, null);

    /// <summary>A Get read <paramref name="value"/> (Absent: no such key).</summary>
    public static KvOutput Read(KvValue value) => new(false, value, null);

    /// <summary>A Cas swapped (true) or found another value (false).</summary>
    public static KvOutput Swapped(bool swapped) => new(false, KvValue.Absent, swapped);

    /// <summary>A Delete removed a key (true) or found none (false).</summary>
    public static KvOutput Deleted(bool deleted) => new(false, KvValue.Absent, deleted);
}

/// <summary>Single-key registers, one per key: the model the simulation checks client histories
/// against. Partitions by key, so each key is searched on its own.</summary>
public sealed class KvModel : IModel<KvValue, KvInput, KvOutput>
{
    /// <summary>The model has no settings; share one instance.</summary>
    public static KvModel Instance { get; } = new();

    public KvValue Init() => KvValue.Absent;

    public bool Step(KvValue state, KvInput input, KvOutput output, out KvValue next)
    {
        switch (input.Op)
        {
            case KvOp.Get:
                next = state;
                return output.IsUnknown || output.Value == state;
            case KvOp.Put:
                next = input.Value;
                return true;
            case KvOp.Delete:
                next = KvValue.Absent;
                return output.Succeeded is not { } deleted || deleted == state.Exists;
            case KvOp.Cas:
                // Linearized here means it took effect here, so an unknown Cas still swaps exactly
                // when the state matches; "never took effect" is the search leaving it out.
                bool swaps = state == input.Expected;
                next = swaps ? input.Value : state;
                return output.Succeeded is not { } swapped || swapped == swaps;
            default:
                throw new ArgumentOutOfRangeException(nameof(input), input.Op, "unknown key-value operation");
        }
    }

    public bool IsReadOnly(KvInput input, KvOutput output) =>
        input.Op == KvOp.Get || (input.Op == KvOp.Cas && output.Succeeded == false);

    /// <summary>One sub-history per key, keys in order of first appearance. Drops calls that cannot
    /// change the verdict but would multiply the search (each never-returned call stays a candidate
    /// to the end of the history): reads that never returned, and timed-out puts nothing could have
    /// observed (see <see cref="WithoutUnobservablePuts"/>); then merges values nobody read (see
    /// <see cref="MergeUnreadValues"/>).</summary>
    public IReadOnlyList<IReadOnlyList<Operation<KvInput, KvOutput>>> Partition(
        IReadOnlyList<Operation<KvInput, KvOutput>> history)
    {
        var byKey = new Dictionary<string, List<Operation<KvInput, KvOutput>>>(StringComparer.Ordinal);
        var keys = new List<List<Operation<KvInput, KvOutput>>>();
        foreach (Operation<KvInput, KvOutput> recorded in history)
        {
            // Whatever a call that never returned claims to have returned, nobody saw it.
            Operation<KvInput, KvOutput> op = recorded.NeverReturned && !recorded.Output.IsUnknown
                ? recorded with { Output = KvOutput.Unknown }
                : recorded;
            if (op.Input.Op == KvOp.Get && op.Output.IsUnknown)
            {
                continue; // accepts every state and changes none: no constraint at all
            }
            if (!byKey.TryGetValue(op.Input.Key, out List<Operation<KvInput, KvOutput>>? ops))
            {
                ops = [];
                byKey.Add(op.Input.Key, ops);
                keys.Add(ops);
            }
            ops.Add(op);
        }
        var partitions = new List<IReadOnlyList<Operation<KvInput, KvOutput>>>(keys.Count);
        foreach (List<Operation<KvInput, KvOutput>> ops in keys)
        {
            List<Operation<KvInput, KvOutput>> kept = WithoutUnobservablePuts(ops);
            MergeUnreadValues(kept);
            partitions.Add(kept);
        }
        return partitions;
    }

    /// <summary>Drops never-returned puts whose value no call on the key could have seen.</summary>
    /// <remarks>Take a linearization that places such a put P(v) somewhere. Every call between P and
    /// the next state change must accept v: with the conditions below none can (no read returned v,
    /// no cas expects v, and the calls that accept any other value, a failed or unknown cas or a
    /// delete known to have deleted, are absent from the key). So the next call after P sets the
    /// state, identically with or without P, and moving P to the very end (it never took effect)
    /// leaves a linearization. The converse is immediate, so the verdict is unchanged.</remarks>
    internal static List<Operation<KvInput, KvOutput>> WithoutUnobservablePuts(List<Operation<KvInput, KvOutput>> ops)
    {
        var seen = new HashSet<KvValue>(); // values a call on this key observed or required
        bool anyTimedOutPut = false;
        foreach (Operation<KvInput, KvOutput> op in ops)
        {
            switch (op.Input.Op)
            {
                case KvOp.Get:
                    seen.Add(op.Output.Value); // unknown reads were dropped already
                    break;
                case KvOp.Put:
                    anyTimedOutPut |= op.NeverReturned;
                    break;
                case KvOp.Delete when op.Output.Succeeded == true:
                    return ops;
                case KvOp.Cas when op.Output.Succeeded == true:
                    seen.Add(op.Input.Expected);
                    break;
                case KvOp.Cas:
                    return ops; // failed or unknown: it may accept the value a put left
            }
        }
        if (!anyTimedOutPut)
        {
            return ops;
        }
        // A put of Absent is kept: a delete that found no key would accept the state it leaves.
        return ops.FindAll(op => !(op.Input.Op == KvOp.Put && op.NeverReturned && op.Input.Value.Exists
            && !seen.Contains(op.Input.Value)));
    }

    /// <summary>Marks every value written on the key that no call read or expected as unread.</summary>
    /// <remarks>Step compares the state with a value only for a read's output and a cas's expected
    /// value; otherwise it asks only whether the key exists. So a value that appears in neither is
    /// indistinguishable from any other such value, and treating them as one changes no verdict.
    /// It does make the states after different unread writes equal, and timed-out writes of unread
    /// values identical calls, which the search prunes.</remarks>
    internal static void MergeUnreadValues(List<Operation<KvInput, KvOutput>> ops)
    {
        var mentioned = new HashSet<KvValue>();
        foreach (Operation<KvInput, KvOutput> op in ops)
        {
            if (op.Input.Op == KvOp.Get)
            {
                mentioned.Add(op.Output.Value);
            }
            else if (op.Input.Op == KvOp.Cas)
            {
                mentioned.Add(op.Input.Expected);
            }
        }
        for (int i = 0; i < ops.Count; i++)
        {
            KvInput input = ops[i].Input;
            if (input.Op is KvOp.Put or KvOp.Cas && input.Value.Exists && !mentioned.Contains(input.Value))
            {
                ops[i] = ops[i] with { Input = input with { Value = input.Value.AsUnread() } };
            }
        }
    }

    public bool StateEquals(KvValue a, KvValue b) => a == b;

    public int StateHash(KvValue state) => state.GetHashCode();

    public string DescribeOperation(KvInput input, KvOutput output)
    {
        string call = input.Op switch
        {
            KvOp.Get => $"get(\"{input.Key}\")",
            KvOp.Put => $"put(\"{input.Key}\", {input.Value})",
            KvOp.Delete => $"delete(\"{input.Key}\")",
            _ => $"cas(\"{input.Key}\", expect {input.Expected}, set {input.Value})",
        };
        if (output.IsUnknown)
        {
            return call + " -> ? (never returned)";
        }
        return input.Op switch
        {
            KvOp.Get => $"{call} -> {output.Value}",
            KvOp.Delete when output.Succeeded is { } deleted => $"{call} -> {(deleted ? "deleted" : "not found")}",
            KvOp.Cas when output.Succeeded is { } swapped => $"{call} -> {(swapped ? "swapped" : "not swapped")}",
            _ => $"{call} -> ok",
        };
    }

    public string DescribeState(KvValue state) => state.ToString();
}
