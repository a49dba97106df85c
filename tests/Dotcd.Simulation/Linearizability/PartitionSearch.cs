using System.Diagnostics;
using System.Text;

namespace Dotcd.Simulation.Linearizability;

/// <summary>How the search of one partition ended.</summary>
internal enum SearchStatus
{
    Linearizable,
    Illegal,
    OutOfSteps,
    OutOfTime,
}

/// <summary>Wing &amp; Gong's search with Lowe's memo, as Porcupine runs it, over one partition: walk
/// the call and return events in time order; at a call, try to linearize that operation now (take it
/// out of the list and restart from the front); at a return, the operation returning was not
/// linearized in time and every candidate has been tried, so this configuration is dead: undo the
/// most recent choice and try the next candidate.</summary>
/// <remarks>
/// A configuration is (K, U, s): the returned calls linearized, the unreturned ones linearized, and
/// the state they lead to. A completion of it orders the remaining calls, every returned one and any
/// subset of the unreturned ones (those left out never took effect), respecting real time and the
/// model. Unreturned calls are accepted in every state (IModel.Step's contract) and nothing has to
/// follow them, which gives the rules below beyond Porcupine. Together they keep this invariant: when
/// a configuration is exhausted and has a completion, one of its shortest completions starts with a
/// call it skipped as absorbing (rule 3). So an exhausted configuration that skipped none has no
/// completion, and only those are recorded dead. (Induction on the order configurations are
/// exhausted; each rule's note says why a shortest completion cannot start where it prunes.)
/// <list type="number">
/// <item>Success as soon as every returned call is linearized; the rest never took effect.</item>
/// <item>Dead memo by subset. If (K, U, s) has no completion, neither has (K, U', s) for U' a superset
/// of U: a completion of the latter, leaving out U' minus U, completes the former. With no unreturned
/// calls this is Lowe's memo. Returned candidates are tried before unreturned ones, so small sets U
/// are met, and recorded, first.</item>
/// <item>Redundant unreturned calls. One that leaves the state unchanged is not tried: leaving it out
/// gives a shorter completion. One that, right after another unreturned call a, gives the same state
/// as it would have without a (a put after a put) is skipped as absorbing: a completion through it
/// means the sibling that skips a reaches the same state with fewer calls.</item>
/// <item>Twin unreturned calls (equal input and output, as after KvModel merges unread values) are
/// interchangeable: a completion through a later twin, with the two swapped, is as short and goes
/// through the earlier one. So a twin is tried only once every earlier twin is linearized.</item>
/// <item>Read-only calls (IModel.IsReadOnly). If one fits the state when it is a candidate, any
/// completion that places it later can move it to the front instead (it is callable, every call that
/// returned before its call is placed, and it changes no state). So when its configuration has no
/// completion, neither has the one it was tried from: the search backs up past both.</item>
/// </list></remarks>
internal sealed class PartitionSearch<TState, TInput, TOutput>
{
    private const int NoEvent = -1;

    private readonly IModel<TState, TInput, TOutput> _model;
    private readonly IReadOnlyList<Operation<TInput, TOutput>> _ops;
    private readonly int _count;
    private readonly bool[] _readOnly;    // per operation, from the model
    private readonly int[] _unreturnedIndex; // per operation: its bit in _unreturnedBits, or -1 if it returned
    private readonly int[] _twin; // per unreturned operation: the previous identical one in the list, or -1

    // Event list, doubly linked in time order. Event 2*i is operation i's call, 2*i+1 its return, and
    // _head (= 2*count) a sentinel before the first event. A linearized operation's two events are
    // lifted out of the list but keep their own links, so unlifting in reverse order (the choice stack
    // guarantees it) puts them back exactly where they were.
    // Invariant: a call event always precedes its own return event in the list.
    private readonly int[] _next;
    private readonly int[] _prev;
    private readonly int _head;

    // Choices made so far: _stackOps[0.._depth) are the linearized operations in order, and
    // _stackStates[k] is the state before _stackOps[k] was applied.
    private readonly int[] _stackOps;
    private readonly TState[] _stackStates;
    private int _depth;

    // _skipped[d]: the configuration at depth d passed over a candidate as absorbing (see IsRedundant),
    // so its exhaustion proves it dead only modulo a sibling; it is then not recorded as dead.
    private readonly bool[] _skipped;

    // The linearized set, split: returned calls in _returnedBits (indexed by operation), unreturned
    // ones in _unreturnedBits (indexed by _unreturnedIndex). _returnedHash is the Zobrist hash of
    // _returnedBits (xor of one random word per member), kept up to date in O(1).
    private readonly ulong[] _returnedBits;
    private readonly ulong[] _unreturnedBits;
    private readonly ulong[] _zobrist;
    private ulong _returnedHash;
    private int _returnedLeft; // returned calls not yet linearized

    // Dead configurations: for each (returned set, state), the unreturned sets known dead with them.
    // Invariant: no configuration recorded here has a successful completion.
    private readonly Dictionary<DeadKey, List<ulong[]>> _dead;

    // Explanation: the deepest failure seen (most operations linearized when some return event was
    // reached). _bestDepth starts below any depth so the first failure is recorded.
    private int _bestDepth = -1;
    private int[] _bestOps = [];
    private TState[] _bestStates = [];
    private int _bestFailedOp = -1;
    private int[] _bestPending = [];

    public PartitionSearch(IModel<TState, TInput, TOutput> model, IReadOnlyList<Operation<TInput, TOutput>> ops)
    {
        _model = model;
        _ops = ops;
        _count = ops.Count;
        _head = 2 * _count;
        _next = new int[2 * _count + 1];
        _prev = new int[2 * _count + 1];
        _stackOps = new int[_count];
        _stackStates = new TState[_count];
        _skipped = new bool[_count + 1];
        _zobrist = new ulong[_count];
        _readOnly = new bool[_count];
        _unreturnedIndex = new int[_count];
        int unreturned = 0;
        for (int i = 0; i < _count; i++)
        {
            _zobrist[i] = SplitMix64((ulong)i);
            _readOnly[i] = model.IsReadOnly(ops[i].Input, ops[i].Output);
            _unreturnedIndex[i] = ops[i].NeverReturned ? unreturned++ : -1;
            _returnedLeft += ops[i].NeverReturned ? 0 : 1;
        }
        _returnedBits = new ulong[(_count + 63) / 64];
        _unreturnedBits = new ulong[(unreturned + 63) / 64];
        _dead = new Dictionary<DeadKey, List<ulong[]>>(new DeadKeyComparer(model));
        BuildEventList();
        _twin = FindTwins();
    }

    private void BuildEventList()
    {
        // Sort events by time; at equal times calls go before returns, so two calls that touch the same
        // tick count as concurrent (the permissive reading: never a false alarm from tick granularity).
        // The event id breaks remaining ties so the order, and so the search, is deterministic.
        var events = new int[2 * _count];
        for (int i = 0; i < events.Length; i++)
        {
            events[i] = i;
        }
        Array.Sort(events, (a, b) =>
        {
            long ta = EventTicks(a);
            long tb = EventTicks(b);
            if (ta != tb)
            {
                return ta < tb ? -1 : 1;
            }
            int kind = (a & 1) - (b & 1); // 0 = call, 1 = return
            return kind != 0 ? kind : a - b;
        });

        int previous = _head;
        _prev[_head] = NoEvent;
        foreach (int e in events)
        {
            _next[previous] = e;
            _prev[e] = previous;
            previous = e;
        }
        _next[previous] = NoEvent;
    }

    private int[] FindTwins()
    {
        var twins = new int[_count];
        Array.Fill(twins, -1);
        var last = new Dictionary<(TInput, TOutput), int>();
        for (int e = _next[_head]; e != NoEvent; e = _next[e])
        {
            int op = e >> 1;
            if ((e & 1) == 0 && _unreturnedIndex[op] >= 0)
            {
                var call = (_ops[op].Input, _ops[op].Output);
                if (last.TryGetValue(call, out int previous))
                {
                    twins[op] = previous;
                }
                last[call] = op;
            }
        }
        return twins;
    }

    private long EventTicks(int e)
    {
        Operation<TInput, TOutput> op = _ops[e >> 1];
        return (e & 1) == 0 ? op.CallTicks : op.ReturnTicks;
    }

    /// <summary>Runs the search; <paramref name="steps"/> accumulates the steps taken.</summary>
    public SearchStatus Run(long maxSteps, Stopwatch clock, TimeSpan? timeout, ref long steps)
    {
        long taken = 0;
        TState state = _model.Init();
        int entry = _next[_head];
        // Each configuration scans its candidates twice: returned calls first, then unreturned ones.
        bool unreturnedPass = false;
        try
        {
            // Unreturned calls may all be left out (they never took effect), so the search succeeds
            // once every returned call is linearized.
            while (_returnedLeft > 0)
            {
                if (++taken > maxSteps)
                {
                    return SearchStatus.OutOfSteps;
                }
                if ((taken & 1023) == 0 && timeout is { } limit && clock.Elapsed > limit)
                {
                    return SearchStatus.OutOfTime;
                }

                if ((entry & 1) == 0)
                {
                    int op = entry >> 1;
                    bool unreturned = _unreturnedIndex[op] >= 0;
                    Operation<TInput, TOutput> o = _ops[op];
                    if (unreturned == unreturnedPass
                        && !(unreturned && HasWaitingTwin(op))
                        && _model.Step(state, o.Input, o.Output, out TState next)
                        && !(unreturned && IsRedundant(o, state, next)))
                    {
                        Include(op);
                        if (!IsKnownDead(next))
                        {
                            _stackOps[_depth] = op;
                            _stackStates[_depth] = state;
                            _depth++;
                            _skipped[_depth] = false;
                            state = next;
                            Lift(entry);
                            entry = _next[_head];
                            unreturnedPass = false;
                            continue;
                        }
                        Exclude(op);
                    }
                    entry = _next[entry];
                    continue;
                }

                if (!unreturnedPass && _unreturnedBits.Length > 0)
                {
                    unreturnedPass = true;
                    entry = _next[_head];
                    continue;
                }

                // The operation returning here had to be linearized by now and was not, and every
                // candidate has been tried: this configuration is dead (if it skipped a candidate as
                // absorbing, only modulo a sibling, see the class summary). Remember the deepest
                // failure for the explanation.
                if (_depth > _bestDepth)
                {
                    RecordFailure(entry, state);
                }
                bool proven = !_skipped[_depth];
                int call;
                while (true)
                {
                    if (_depth == 0)
                    {
                        // The root has no last call, so it skips nothing as absorbing.
                        return proven ? SearchStatus.Illegal : throw new InvalidOperationException("root skipped a call");
                    }
                    if (proven)
                    {
                        RecordDead(state);
                    }
                    _depth--;
                    int op = _stackOps[_depth];
                    state = _stackStates[_depth];
                    _stackStates[_depth] = default!;
                    Exclude(op);
                    call = 2 * op;
                    Unlift(call);
                    if (!(proven && _readOnly[op]))
                    {
                        break;
                    }
                    // A read-only call's configuration is dead, so the one it was tried from is too.
                }
                entry = _next[call];
                unreturnedPass = _unreturnedIndex[call >> 1] >= 0;
            }
            return SearchStatus.Linearizable;
        }
        finally
        {
            steps += taken;
        }
    }

    // Whether linearizing unreturned call o here (state -> next) cannot be needed: because it changes
    // nothing (leaving it out does as well), or because it erases the effect of the unreturned call
    // just before it (the sibling that skips that call reaches the same state with fewer calls).
    private bool IsRedundant(Operation<TInput, TOutput> o, TState state, TState next)
    {
        if (_model.StateEquals(state, next))
        {
            return true;
        }
        if (_depth == 0 || _unreturnedIndex[_stackOps[_depth - 1]] < 0)
        {
            return false;
        }
        if (_model.Step(_stackStates[_depth - 1], o.Input, o.Output, out TState alone) && _model.StateEquals(alone, next))
        {
            _skipped[_depth] = true;
            return true;
        }
        return false;
    }

    // True when an identical unreturned call that comes earlier in the list is not linearized yet:
    // the two are interchangeable, so only the earlier one is tried.
    private bool HasWaitingTwin(int op)
    {
        int twin = _twin[op];
        if (twin < 0)
        {
            return false;
        }
        int u = _unreturnedIndex[twin];
        return (_unreturnedBits[u >> 6] & (1UL << (u & 63))) == 0;
    }

    private void Include(int op)
    {
        int u = _unreturnedIndex[op];
        if (u >= 0)
        {
            _unreturnedBits[u >> 6] |= 1UL << (u & 63);
        }
        else
        {
            _returnedBits[op >> 6] |= 1UL << (op & 63);
            _returnedHash ^= _zobrist[op];
            _returnedLeft--;
        }
    }

    private void Exclude(int op)
    {
        int u = _unreturnedIndex[op];
        if (u >= 0)
        {
            _unreturnedBits[u >> 6] &= ~(1UL << (u & 63));
        }
        else
        {
            _returnedBits[op >> 6] &= ~(1UL << (op & 63));
            _returnedHash ^= _zobrist[op];
            _returnedLeft++;
        }
    }

    // True when the current sets with this state are a known-dead configuration or a superset of one.
    private bool IsKnownDead(TState state)
    {
        var key = new DeadKey(_returnedBits, state, Mix(_returnedHash, _model.StateHash(state)));
        if (!_dead.TryGetValue(key, out List<ulong[]>? deadSets))
        {
            return false;
        }
        foreach (ulong[] dead in deadSets)
        {
            if (IsSubset(dead, _unreturnedBits))
            {
                return true;
            }
        }
        return false;
    }

    private void RecordDead(TState state)
    {
        var key = new DeadKey(_returnedBits, state, Mix(_returnedHash, _model.StateHash(state)));
        if (!_dead.TryGetValue(key, out List<ulong[]>? deadSets))
        {
            deadSets = [];
            _dead.Add(new DeadKey((ulong[])_returnedBits.Clone(), state, key.Hash), deadSets);
        }
        else
        {
            foreach (ulong[] dead in deadSets)
            {
                if (IsSubset(dead, _unreturnedBits))
                {
                    return; // already implied
                }
            }
        }
        deadSets.Add((ulong[])_unreturnedBits.Clone());
    }

    private static bool IsSubset(ulong[] small, ulong[] big)
    {
        for (int i = 0; i < small.Length; i++)
        {
            if ((small[i] & ~big[i]) != 0)
            {
                return false;
            }
        }
        return true;
    }

    private void Lift(int call)
    {
        _next[_prev[call]] = _next[call];
        if (_next[call] != NoEvent)
        {
            _prev[_next[call]] = _prev[call];
        }
        int ret = call + 1;
        _next[_prev[ret]] = _next[ret];
        if (_next[ret] != NoEvent)
        {
            _prev[_next[ret]] = _prev[ret];
        }
    }

    private void Unlift(int call)
    {
        int ret = call + 1;
        _next[_prev[ret]] = ret;
        if (_next[ret] != NoEvent)
        {
            _prev[_next[ret]] = ret;
        }
        _next[_prev[call]] = call;
        if (_next[call] != NoEvent)
        {
            _prev[_next[call]] = call;
        }
    }

    private void RecordFailure(int returnEvent, TState state)
    {
        _bestDepth = _depth;
        _bestOps = _stackOps.AsSpan(0, _depth).ToArray();
        _bestStates = new TState[_depth];
        for (int k = 0; k < _depth; k++)
        {
            // State after operation k is the state before operation k+1, or the current state.
            _bestStates[k] = k + 1 < _depth ? _stackStates[k + 1] : state;
        }
        _bestFailedOp = returnEvent >> 1;

        // Calls still in the list ahead of the failing return were the candidates for the next step.
        var pending = new List<int>();
        for (int e = _next[_head]; e != returnEvent && e != NoEvent; e = _next[e])
        {
            if ((e & 1) == 0 && (e >> 1) != _bestFailedOp)
            {
                pending.Add(e >> 1);
            }
        }
        _bestPending = pending.ToArray();
    }

    /// <summary>The longest linearizable prefix found, in order (after an Illegal run).</summary>
    public Operation<TInput, TOutput>[] BestPrefix()
    {
        var prefix = new Operation<TInput, TOutput>[_bestOps.Length];
        for (int k = 0; k < prefix.Length; k++)
        {
            prefix[k] = _ops[_bestOps[k]];
        }
        return prefix;
    }

    /// <summary>The operation that could not be linearized after the best prefix (after an Illegal run).</summary>
    public Operation<TInput, TOutput> FailedOperation => _ops[_bestFailedOp];

    /// <summary>Says why the partition is not linearizable, in a few lines.</summary>
    public string Explain(int partitionIndex, int partitionCount)
    {
        const int ShownPrefix = 10;
        const int ShownPending = 10;
        var text = new StringBuilder();
        text.Append("not linearizable: partition ").Append(partitionIndex + 1).Append(" of ")
            .Append(partitionCount).Append(" (").Append(_count).AppendLine(" operations).");
        text.Append("The longest linearizable prefix found has ").Append(_bestOps.Length).Append(" operations");
        if (_bestOps.Length == 0)
        {
            text.AppendLine(".");
        }
        else
        {
            int first = Math.Max(0, _bestOps.Length - ShownPrefix);
            text.Append(first > 0 ? $"; its last {_bestOps.Length - first}" : "").AppendLine(", with the state after each:");
            for (int k = first; k < _bestOps.Length; k++)
            {
                text.Append("  ").Append(Describe(_bestOps[k])).Append("   => ")
                    .AppendLine(_model.DescribeState(_bestStates[k]));
            }
        }
        TState last = _bestOps.Length > 0 ? _bestStates[^1] : _model.Init();
        text.Append("State after the prefix: ").AppendLine(_model.DescribeState(last));
        text.AppendLine("No linearization places this call before its return:");
        text.Append("  ").AppendLine(Describe(_bestFailedOp));
        if (_bestPending.Length > 0)
        {
            text.AppendLine("Other calls that could have gone next (none leads to a linearization):");
            foreach (int op in _bestPending.Take(ShownPending))
            {
                text.Append("  ").AppendLine(Describe(op));
            }
            if (_bestPending.Length > ShownPending)
            {
                text.Append("  ... and ").Append(_bestPending.Length - ShownPending).AppendLine(" more");
            }
        }
        return text.ToString();
    }

    private string Describe(int op)
    {
        Operation<TInput, TOutput> o = _ops[op];
        string returned = o.NeverReturned ? "never" : o.ReturnTicks.ToString();
        return $"client {o.ClientId} [{o.CallTicks}, {returned}] {_model.DescribeOperation(o.Input, o.Output)}";
    }

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static int Mix(ulong bitsHash, int stateHash)
    {
        ulong h = (bitsHash ^ (uint)stateHash) * 0x9E3779B97F4A7C15UL;
        return (int)(h >> 32);
    }

    private readonly struct DeadKey(ulong[] returnedBits, TState state, int hash)
    {
        public readonly ulong[] ReturnedBits = returnedBits;
        public readonly TState State = state;
        public readonly int Hash = hash;
    }

    private sealed class DeadKeyComparer(IModel<TState, TInput, TOutput> model) : IEqualityComparer<DeadKey>
    {
        public bool Equals(DeadKey a, DeadKey b) =>
            a.Hash == b.Hash && a.ReturnedBits.AsSpan().SequenceEqual(b.ReturnedBits) && model.StateEquals(a.State, b.State);

        public int GetHashCode(DeadKey k) => k.Hash;
    }
}
