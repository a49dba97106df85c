using Dotcd.Simulation.Linearizability;

namespace Dotcd.Simulation.Tests.Linearizability;

/// <summary>Generates linearizable key-value histories from a real sequential execution: each call
/// takes effect on a dictionary at its own linearization tick, and the recorded interval is widened
/// randomly around that tick, so the history is legal by construction.</summary>
internal sealed class RandomKvHistory
{
    public required List<Operation<KvInput, KvOutput>> Ops { get; init; }

    /// <summary>Tick at which each operation took effect, or null if it never did.</summary>
    public required List<long?> EffectTicks { get; init; }

    /// <param name="timeoutPercent">share of calls that never return; half of those never take effect</param>
    /// <param name="maxSkewTicks">how far a call or return may lie from the linearization tick</param>
    /// <param name="putsAndGetsOnly">no deletes or compare-and-swaps</param>
    public static RandomKvHistory Generate(int seed, int count, int clients, int keys, int timeoutPercent,
        int maxSkewTicks = 20, bool putsAndGetsOnly = false)
    {
        var random = new Random(seed);
        var store = new Dictionary<string, long>();
        var busyUntil = new long[clients];
        Array.Fill(busyUntil, -1);
        var ops = new List<Operation<KvInput, KvOutput>>(count);
        var effects = new List<long?>(count);
        long now = 0;
        long nextValue = 1; // every write writes a fresh value, so a value names the write
        for (int j = 0; j < count; j++)
        {
            now += random.Next(1, 4);
            if (busyUntil.All(b => b >= now))
            {
                now = busyUntil.Min() + 1;
            }
            int[] free = Enumerable.Range(0, clients).Where(c => busyUntil[c] < now).ToArray();
            int client = free[random.Next(free.Length)];
            long call = Math.Max(busyUntil[client] + 1, now - random.Next(0, maxSkewTicks));
            long ret = now + random.Next(0, maxSkewTicks);
            busyUntil[client] = ret; // a client whose call timed out moves on at its timeout

            string key = "k" + random.Next(keys);
            bool timedOut = random.Next(100) < timeoutPercent;
            bool applies = !timedOut || random.Next(2) == 0;
            bool exists = store.TryGetValue(key, out long current);
            KvValue currentValue = exists ? current : KvValue.Absent;
            KvInput input;
            KvOutput output;
            int pick = putsAndGetsOnly ? random.Next(75) : random.Next(100);
            if (pick < 40)
            {
                input = KvInput.Get(key);
                output = KvOutput.Read(currentValue);
            }
            else if (pick < 75)
            {
                long value = nextValue++;
                input = KvInput.Put(key, value);
                output = KvOutput.Done;
                if (applies)
                {
                    store[key] = value;
                }
            }
            else if (pick < 85)
            {
                input = KvInput.Delete(key);
                output = KvOutput.Deleted(exists);
                if (applies)
                {
                    store.Remove(key);
                }
            }
            else
            {
                // Half the time expect the current value (swaps), else an old or absent one.
                KvValue expected = random.Next(2) == 0 ? currentValue
                    : random.Next(2) == 0 ? KvValue.Absent : random.NextInt64(1, nextValue);
                long value = nextValue++;
                input = KvInput.Cas(key, expected, value);
                bool swaps = expected == currentValue;
                output = KvOutput.Swapped(swaps);
                if (applies && swaps)
                {
                    store[key] = value;
                }
            }

            if (timedOut)
            {
                ops.Add(new Operation<KvInput, KvOutput>(client, input, call, KvOutput.Unknown, Operation.NeverReturned));
            }
            else
            {
                ops.Add(new Operation<KvInput, KvOutput>(client, input, call, output, ret));
            }
            effects.Add(applies ? now : null);
        }
        return new RandomKvHistory { Ops = ops, EffectTicks = effects };
    }
}
