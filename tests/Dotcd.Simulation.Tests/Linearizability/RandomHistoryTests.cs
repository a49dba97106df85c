using System.Diagnostics;
using Dotcd.Simulation.Linearizability;

namespace Dotcd.Simulation.Tests.Linearizability;

public sealed class RandomHistoryTests
{
    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        for (int seed = 1; seed <= 30; seed++)
        {
            seeds.Add(seed);
        }
        return seeds;
    }

    [Theory, MemberData(nameof(Seeds))]
    public void HistoryOfARealSequentialExecutionIsLinearizable(int seed)
    {
        RandomKvHistory history = RandomKvHistory.Generate(seed, count: 300, clients: 6, keys: 3, timeoutPercent: 5);

        CheckResult<KvInput, KvOutput> result = LinearizabilityChecker.Check(KvModel.Instance, history.Ops);

        Assert.True(result.IsOk, result.Explanation);
    }

    [Theory, MemberData(nameof(Seeds))]
    public void ReadOfAValueNeverWrittenIsIllegal(int seed)
    {
        RandomKvHistory history = RandomKvHistory.Generate(seed, count: 300, clients: 6, keys: 3, timeoutPercent: 5);
        var random = new Random(seed);
        int[] reads = KnownReads(history.Ops).ToArray();
        int victim = reads[random.Next(reads.Length)];
        Operation<KvInput, KvOutput> read = history.Ops[victim];
        history.Ops[victim] = read with { Output = KvOutput.Read(-1) };

        CheckResult<KvInput, KvOutput> result = LinearizabilityChecker.Check(KvModel.Instance, history.Ops);

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Equal(read.Input.Key, result.FailedOperation!.Value.Input.Key);
        Assert.Contains("-> -1", result.Explanation);
    }

    [Theory, MemberData(nameof(Seeds))]
    public void ReadOfAnOverwrittenValueIsIllegal(int seed)
    {
        // Corrupt a read to return the value of a write W1 that finished before another write W2 began,
        // where W2 finished before the read began. Values are fresh per write, so W2 replaced the value
        // for good and the read is stale in every linearization.
        RandomKvHistory history = RandomKvHistory.Generate(seed, count: 300, clients: 6, keys: 3, timeoutPercent: 5);
        List<Operation<KvInput, KvOutput>> ops = history.Ops;
        var random = new Random(seed);
        var cases = new List<(int Read, KvValue Stale)>();
        for (int w1 = 0; w1 < ops.Count; w1++)
        {
            string key = ops[w1].Input.Key;
            if (!IsCertainWrite(ops[w1], key) || ops[w1].Input.Op == KvOp.Delete)
            {
                continue;
            }
            // The earliest return of a certain write on the key that began after W1 returned.
            long overwrittenBy = ops.Where(w2 => IsCertainWrite(w2, key) && ops[w1].ReturnTicks < w2.CallTicks)
                .Select(w2 => w2.ReturnTicks).DefaultIfEmpty(long.MaxValue).Min();
            foreach (int r in KnownReads(ops))
            {
                if (ops[r].Input.Key == key && overwrittenBy < ops[r].CallTicks)
                {
                    cases.Add((r, ops[w1].Input.Value));
                }
            }
        }
        Assert.NotEmpty(cases);

        for (int attempt = 0; attempt < 3; attempt++)
        {
            (int victim, KvValue stale) = cases[random.Next(cases.Count)];
            var corrupted = new List<Operation<KvInput, KvOutput>>(ops);
            corrupted[victim] = ops[victim] with { Output = KvOutput.Read(stale) };

            CheckResult<KvInput, KvOutput> result = LinearizabilityChecker.Check(KvModel.Instance, corrupted);

            Assert.Equal(CheckOutcome.Illegal, result.Outcome);
            Assert.Equal(ops[victim].Input.Key, result.FailedOperation!.Value.Input.Key);
        }
    }

    [Fact]
    public void CheckerAgreesWithExhaustiveSearchOnSmallHistories()
    {
        // Small single-key histories with random (often impossible) outputs, judged both by the checker
        // and by trying every order that respects real time.
        var random = new Random(20240607);
        int legal = 0;
        int illegal = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            var ops = new List<Operation<KvInput, KvOutput>>();
            int count = random.Next(1, 8);
            // Puts and gets only (the model drops unread timed-out puts), then deletes, then everything.
            int kinds = 2 + trial % 3;
            for (int i = 0; i < count; i++)
            {
                long call = random.Next(0, 30);
                long ret = random.Next(100) < 30 ? Operation.NeverReturned : call + random.Next(0, 12);
                KvValue Small() => random.Next(4) == 0 ? KvValue.Absent : random.Next(1, 4);
                bool? Flag() => random.Next(3) switch { 0 => true, 1 => false, _ => null };
                (KvInput input, KvOutput output) = random.Next(kinds) switch
                {
                    0 => (KvInput.Get("a"), KvOutput.Read(Small())),
                    1 => (KvInput.Put("a", random.Next(1, 4)), KvOutput.Done),
                    2 => (KvInput.Delete("a"), new KvOutput(false, KvValue.Absent, Flag())),
                    _ => (KvInput.Cas("a", Small(), random.Next(1, 4)), new KvOutput(false, KvValue.Absent, Flag())),
                };
                if (ret == Operation.NeverReturned)
                {
                    output = KvOutput.Unknown;
                }
                ops.Add(new Operation<KvInput, KvOutput>(i, input, call, output, ret));
            }

            bool expected = ExhaustivelyLinearizable(ops);
            CheckResult<KvInput, KvOutput> result = LinearizabilityChecker.Check(KvModel.Instance, ops);

            Assert.True(expected == result.IsOk,
                $"trial {trial}: exhaustive search says {expected}, checker says {result.Outcome}\n" +
                string.Join("\n", ops.Select(o => $"[{o.CallTicks}, {o.ReturnTicks}] " +
                    KvModel.Instance.DescribeOperation(o.Input, o.Output))));
            if (expected)
            {
                legal++;
            }
            else
            {
                illegal++;
            }
        }
        Assert.True(legal > 500 && illegal > 500, $"legal {legal}, illegal {illegal}: too one-sided to compare");
    }

    [Fact]
    public void LargeHistoryIsCheckedQuickly()
    {
        RandomKvHistory history = RandomKvHistory.Generate(seed: 7, count: 2000, clients: 8, keys: 20, timeoutPercent: 3);
        var clock = Stopwatch.StartNew();

        CheckResult<KvInput, KvOutput> legal = LinearizabilityChecker.Check(KvModel.Instance, history.Ops);
        TimeSpan legalTime = clock.Elapsed;
        int victim = KnownReads(history.Ops).Last();
        history.Ops[victim] = history.Ops[victim] with { Output = KvOutput.Read(-1) };
        clock.Restart();
        CheckResult<KvInput, KvOutput> illegal = LinearizabilityChecker.Check(KvModel.Instance, history.Ops);
        TimeSpan illegalTime = clock.Elapsed;

        Assert.True(legal.IsOk, legal.Explanation);
        Assert.Equal(CheckOutcome.Illegal, illegal.Outcome);
        // Generous for a shared 2-core machine; typical runs take milliseconds.
        Assert.True(legalTime < TimeSpan.FromSeconds(5), $"legal history took {legalTime}");
        Assert.True(illegalTime < TimeSpan.FromSeconds(5), $"illegal history took {illegalTime}");
    }

    [Fact]
    public void HotKeyWithManyConcurrentClientsIsCheckedWithinBudget()
    {
        // One key, every client on it, wide intervals: the hardest shape the simulation produces.
        RandomKvHistory history = RandomKvHistory.Generate(seed: 11, count: 1000, clients: 10, keys: 1,
            timeoutPercent: 3, maxSkewTicks: 30);

        CheckResult<KvInput, KvOutput> result = LinearizabilityChecker.Check(KvModel.Instance, history.Ops,
            new CheckOptions { MaxStepsPerPartition = 2_000_000 });

        Assert.True(result.IsOk, result.Explanation);
    }

    [Fact]
    public void TimedOutPutsNobodyReadDoNotSlowTheSearch()
    {
        // Forty puts that never returned stay candidates to the end of the history; searched as they
        // are, an illegal read at the end would need 2^40 orders. None was read, so none matters.
        var history = new KvHistoryBuilder().Put(0, 0, 10, "a", 1);
        for (int i = 0; i < 40; i++)
        {
            history.Put(1 + i, 20 + i, null, "a", 100 + i).Get(50, 20 + i, 21 + i, "a", 1);
        }
        history.Put(0, 100, 110, "a", 2).Get(0, 120, 130, "a", 1);

        CheckResult<KvInput, KvOutput> result = history.Check(new CheckOptions { MaxStepsPerPartition = 100_000 });

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Equal(120, result.FailedOperation!.Value.CallTicks);
    }

    [Fact]
    public void TimedOutWritesThatCannotBeDroppedDoNotSlowTheSearch()
    {
        // Thirty timed-out puts, none read; but a failed compare-and-swap could have seen any of their
        // values, so the model cannot drop them and the search must consider them. Puts erase one
        // another, and a dead set of linearized unreturned calls rules out its supersets, so the
        // search stays small instead of trying 2^30 subsets.
        var history = new KvHistoryBuilder().Put(0, 0, 10, "a", 1);
        for (int i = 0; i < 30; i++)
        {
            history.Put(1 + i, 20 + i, null, "a", 100 + i);
        }
        history.Cas(40, 20, 30, "a", expected: 999, value: 5, swapped: false)
            .Put(0, 100, 110, "a", 2)
            .Get(0, 120, 130, "a", 1);

        CheckResult<KvInput, KvOutput> result = history.Check(new CheckOptions { MaxStepsPerPartition = 100_000 });

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Equal(120, result.FailedOperation!.Value.CallTicks);
    }

    [Fact]
    public void ManyConcurrentReadsDoNotSlowTheSearch()
    {
        // Twenty reads overlap a put; a later read is stale. Every subset of the twenty could go before
        // the put, but a read that fits is never worth postponing, so the search stays linear.
        var history = new KvHistoryBuilder().Put(0, 0, 5, "a", 1).Put(0, 10, 100, "a", 2);
        for (int i = 0; i < 20; i++)
        {
            history.Get(1 + i, 10 + i, 100, "a", 1);
        }
        history.Get(0, 200, 210, "a", 1);

        CheckResult<KvInput, KvOutput> result = history.Check(new CheckOptions { MaxStepsPerPartition = 100_000 });

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Equal(200, result.FailedOperation!.Value.CallTicks);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(4, true)]
    public void TimedOutWritesOnAHotKeyAreCheckedWithinBudget(int seed, bool putsAndGetsOnly)
    {
        // The simulation's shape: a few clients on one key, every twentieth call timing out, and a
        // corrupted read halfway, so the search must exhaust everything before it.
        RandomKvHistory history = RandomKvHistory.Generate(seed, count: 600, clients: 4, keys: 1,
            timeoutPercent: 5, putsAndGetsOnly: putsAndGetsOnly);
        var options = new CheckOptions { MaxStepsPerPartition = 2_000_000 };
        CheckResult<KvInput, KvOutput> legal = LinearizabilityChecker.Check(KvModel.Instance, history.Ops, options);
        int[] reads = KnownReads(history.Ops).ToArray();
        int victim = reads[reads.Length / 2];
        history.Ops[victim] = history.Ops[victim] with { Output = KvOutput.Read(-1) };

        CheckResult<KvInput, KvOutput> illegal = LinearizabilityChecker.Check(KvModel.Instance, history.Ops, options);

        Assert.True(legal.IsOk, legal.Explanation);
        Assert.Equal(CheckOutcome.Illegal, illegal.Outcome);
    }

    private static IEnumerable<int> KnownReads(List<Operation<KvInput, KvOutput>> ops) =>
        Enumerable.Range(0, ops.Count).Where(i => ops[i].Input.Op == KvOp.Get && !ops[i].Output.IsUnknown);

    // A returned call on the key that certainly set its value: a put, a delete, or a cas that swapped.
    private static bool IsCertainWrite(Operation<KvInput, KvOutput> op, string key) =>
        op.Input.Key == key && !op.NeverReturned && op.Input.Op switch
        {
            KvOp.Put or KvOp.Delete => true,
            KvOp.Cas => op.Output.Succeeded == true,
            _ => false,
        };

    private static bool ExhaustivelyLinearizable(List<Operation<KvInput, KvOutput>> ops)
    {
        bool Extend(int usedMask, KvValue state)
        {
            if (usedMask == (1 << ops.Count) - 1)
            {
                return true;
            }
            for (int i = 0; i < ops.Count; i++)
            {
                if ((usedMask & (1 << i)) != 0)
                {
                    continue;
                }
                // i may go next only if every call that returned before i was called is already placed.
                bool ready = true;
                for (int j = 0; j < ops.Count; j++)
                {
                    if ((usedMask & (1 << j)) == 0 && j != i && ops[j].ReturnTicks < ops[i].CallTicks)
                    {
                        ready = false;
                    }
                }
                if (ready && KvModel.Instance.Step(state, ops[i].Input, ops[i].Output, out KvValue next)
                    && Extend(usedMask | (1 << i), next))
                {
                    return true;
                }
            }
            return false;
        }
        return Extend(0, KvModel.Instance.Init());
    }
}
