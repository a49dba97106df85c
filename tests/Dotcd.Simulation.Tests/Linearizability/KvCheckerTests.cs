using Dotcd.Simulation.Linearizability;

namespace Dotcd.Simulation.Tests.Linearizability;

public sealed class KvCheckerTests
{
    [Fact]
    public void SequentialLegalHistoryIsLinearizable()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Get(1, 0, 5, "a", null)
            .Put(1, 10, 20, "a", 1)
            .Get(2, 30, 40, "a", 1)
            .Put(2, 50, 60, "a", 2)
            .Get(1, 70, 80, "a", 2)
            .Delete(1, 90, 100, "a", deleted: true)
            .Get(2, 110, 120, "a", null)
            .Delete(2, 130, 140, "a", deleted: false)
            .Check();

        Assert.Equal(CheckOutcome.Ok, result.Outcome);
        Assert.Equal("", result.Explanation);
        Assert.Null(result.FailedOperation);
    }

    [Fact]
    public void StaleReadAfterCompletedWriteIsIllegal()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(1, 20, 30, "a", 2)
            .Get(2, 31, 40, "a", 1)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Equal(KvOp.Get, result.FailedOperation!.Value.Input.Op);
        Assert.Equal(31, result.FailedOperation.Value.CallTicks);
        Assert.Equal(2, result.LinearizedPrefix.Count);
        Assert.Contains("get(\"a\") -> 1", result.Explanation);
        Assert.Contains("State after the prefix: 2", result.Explanation);
    }

    [Fact]
    public void LostWriteIsIllegal()
    {
        // put 2 is acknowledged, yet reads keep seeing the value it replaced.
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(2, 20, 30, "a", 2)
            .Get(3, 25, 35, "a", 1) // concurrent with put 2: fine on its own
            .Get(3, 40, 50, "a", 1)
            .Get(1, 60, 70, "a", 1)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Equal(40, result.FailedOperation!.Value.CallTicks);
    }

    [Fact]
    public void ReadsSeeingSequentialWritesInTheWrongOrderAreIllegal()
    {
        KvHistoryBuilder Writes() => new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(2, 20, 30, "a", 2);

        CheckResult<KvInput, KvOutput> reordered = Writes()
            .Get(3, 15, 35, "a", 2)
            .Get(3, 40, 50, "a", 1)
            .Check();
        CheckResult<KvInput, KvOutput> inOrder = Writes()
            .Get(3, 15, 35, "a", 1)
            .Get(3, 40, 50, "a", 2)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, reordered.Outcome);
        Assert.Equal(CheckOutcome.Ok, inOrder.Outcome);
    }

    [Theory]
    [InlineData(1L, true)]
    [InlineData(2L, true)]
    [InlineData(3L, false)]    // never written
    [InlineData(null, false)]  // put 1 completed before the read began
    public void ReadConcurrentWithWriteMaySeeEitherValue(long? seen, bool legal)
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(1, 20, 40, "a", 2)
            .Get(2, 25, 35, "a", seen)
            .Check();

        Assert.Equal(legal ? CheckOutcome.Ok : CheckOutcome.Illegal, result.Outcome);
    }

    [Fact]
    public void OverlappingWritesAndReadsFromManyClientsAreLinearizable()
    {
        // Three puts overlap one another; readers see an order (3, 1, 2) unlike the call order, which
        // is legal because no put finished before another began.
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 100, "a", 1)
            .Put(2, 10, 90, "a", 2)
            .Put(3, 20, 80, "a", 3)
            .Get(4, 5, 30, "a", 3)
            .Get(4, 35, 50, "a", 1)
            .Get(5, 55, 95, "a", 2)
            .Get(5, 101, 110, "a", 2)
            .Check();

        Assert.Equal(CheckOutcome.Ok, result.Outcome);
    }

    [Fact]
    public void ReadsConcurrentWithWriteCannotSeeNewThenOld()
    {
        KvHistoryBuilder Writes() => new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(1, 20, 60, "a", 2);

        // Both reads overlap put 2 but not each other: once one saw 2, a later one cannot see 1.
        CheckResult<KvInput, KvOutput> newThenOld = Writes()
            .Get(2, 25, 35, "a", 2)
            .Get(3, 40, 50, "a", 1)
            .Check();
        CheckResult<KvInput, KvOutput> oldThenNew = Writes()
            .Get(2, 25, 35, "a", 1)
            .Get(3, 40, 50, "a", 2)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, newThenOld.Outcome);
        Assert.Equal(40, newThenOld.FailedOperation!.Value.CallTicks);
        Assert.Equal(CheckOutcome.Ok, oldThenNew.Outcome);
    }

    [Fact]
    public void TimedOutWriteMayTakeEffectLongAfterItsCall()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(1, 20, null, "a", 2)
            .Get(2, 100, 110, "a", 1)
            .Get(2, 200, 210, "a", 2)
            .Get(3, 300, 310, "a", 2)
            .Check();

        Assert.Equal(CheckOutcome.Ok, result.Outcome);
    }

    [Fact]
    public void TimedOutWriteMayNeverTakeEffect()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(1, 20, null, "a", 2)
            .Get(2, 100, 110, "a", 1)
            .Get(2, 200, 210, "a", 1)
            .Check();

        Assert.Equal(CheckOutcome.Ok, result.Outcome);
    }

    [Fact]
    public void TimedOutWriteCannotTakeEffectBeforeItsCallNorBeUndone()
    {
        CheckResult<KvInput, KvOutput> beforeCall = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Get(2, 12, 18, "a", 2)
            .Put(1, 20, null, "a", 2)
            .Check();
        CheckResult<KvInput, KvOutput> undone = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(1, 20, null, "a", 2)
            .Get(2, 100, 110, "a", 2)
            .Get(2, 200, 210, "a", 1)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, beforeCall.Outcome);
        Assert.Equal(CheckOutcome.Illegal, undone.Outcome);
        Assert.Contains("never returned", undone.Explanation);
    }

    [Fact]
    public void TimedOutWriteSeenOnlyByADeleteOrAFailedCompareAndSwapMayTakeEffect()
    {
        // No read returns 2, yet the second delete found a key and the cas found something other than
        // absent: only the timed-out put can explain either.
        CheckResult<KvInput, KvOutput> byDelete = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(2, 15, null, "a", 2)
            .Delete(3, 20, 30, "a", deleted: true)
            .Delete(3, 40, 50, "a", deleted: true)
            .Check();
        CheckResult<KvInput, KvOutput> byCas = new KvHistoryBuilder()
            .Delete(1, 0, 10, "a", deleted: false)
            .Put(2, 15, null, "a", 2)
            .Cas(3, 40, 50, "a", expected: null, value: 3, swapped: false)
            .Check();

        Assert.Equal(CheckOutcome.Ok, byDelete.Outcome);
        Assert.Equal(CheckOutcome.Ok, byCas.Outcome);
    }

    [Fact]
    public void TwoIdenticalTimedOutWritesMayBothTakeEffect()
    {
        // Value 1 appears, is deleted, and appears again: only if both timed-out puts of 1 took effect.
        KvHistoryBuilder Writes() => new KvHistoryBuilder()
            .Put(1, 0, null, "a", 1)
            .Put(2, 0, null, "a", 1)
            .Get(3, 10, 20, "a", 1)
            .Delete(3, 30, 40, "a", deleted: true)
            .Get(3, 50, 60, "a", null)
            .Get(3, 70, 80, "a", 1);

        Assert.Equal(CheckOutcome.Ok, Writes().Check().Outcome);
        Assert.Equal(CheckOutcome.Illegal, Writes().Delete(3, 90, 100, "a", deleted: true).Get(3, 110, 120, "a", 1).Check().Outcome);
    }

    [Fact]
    public void CompetingCompareAndSwapsWithOneWinnerAreLinearizable()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 0)
            .Cas(1, 20, 40, "a", expected: 0, value: 1, swapped: false)
            .Cas(2, 22, 38, "a", expected: 0, value: 2, swapped: true)
            .Cas(3, 25, 35, "a", expected: 2, value: 3, swapped: true)
            .Get(4, 45, 50, "a", 3)
            .Cas(4, 55, 60, "a", expected: null, value: 9, swapped: false)
            .Delete(4, 61, 62, "a", deleted: true)
            .Cas(4, 63, 64, "a", expected: null, value: 9, swapped: true)
            .Get(4, 65, 66, "a", 9)
            .Check();

        Assert.Equal(CheckOutcome.Ok, result.Outcome);
    }

    [Fact]
    public void TwoCompareAndSwapsFromTheSameValueCannotBothWin()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 0)
            .Cas(1, 20, 40, "a", expected: 0, value: 1, swapped: true)
            .Cas(2, 22, 38, "a", expected: 0, value: 2, swapped: true)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Contains("cas(\"a\", expect 0, set", result.Explanation);
    }

    [Fact]
    public void CompareAndSwapThatFailedWithMatchingValueIsIllegal()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 5)
            .Cas(2, 20, 30, "a", expected: 5, value: 6, swapped: false)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
    }

    [Fact]
    public void TimedOutCompareAndSwapSwapsOnlyIfTheValueMatched()
    {
        // The unknown cas may take effect between put 1 and put 2 (value becomes 7)...
        CheckResult<KvInput, KvOutput> applied = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Cas(2, 5, null, "a", expected: 1, value: 7, swapped: null)
            .Get(3, 20, 30, "a", 7)
            .Check();
        // ...but it can never produce 7 from a value it did not expect.
        CheckResult<KvInput, KvOutput> impossible = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Cas(2, 15, null, "a", expected: 3, value: 7, swapped: null)
            .Get(3, 20, 30, "a", 7)
            .Check();

        Assert.Equal(CheckOutcome.Ok, applied.Outcome);
        Assert.Equal(CheckOutcome.Illegal, impossible.Outcome);
    }

    [Fact]
    public void DeleteThatReportsAMissingKeyAfterAPutIsIllegal()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Delete(2, 20, 30, "a", deleted: false)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
    }

    [Fact]
    public void IllegalKeyIsReportedAmongLegalKeys()
    {
        CheckResult<KvInput, KvOutput> result = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Put(2, 0, 10, "b", 1)
            .Put(3, 0, 10, "c", 1)
            .Get(1, 20, 30, "a", 1)
            .Put(2, 20, 30, "b", 2)
            .Get(3, 20, 30, "c", 1)
            .Get(1, 40, 50, "b", 1) // stale
            .Get(3, 40, 50, "c", 1)
            .Check();

        Assert.Equal(CheckOutcome.Illegal, result.Outcome);
        Assert.Equal(1, result.PartitionIndex);
        Assert.Contains("partition 2 of 3", result.Explanation);
        Assert.Contains("client 1 [40, 50] get(\"b\") -> 1", result.Explanation);
        Assert.Equal("b", result.FailedOperation!.Value.Input.Key);
    }

    [Fact]
    public void StringValuesAreComparedByContent()
    {
        var history = new List<Operation<KvInput, KvOutput>>
        {
            new(1, KvInput.Put("a", "x"), 0, KvOutput.Done, 10),
            new(2, KvInput.Get("a"), 20, KvOutput.Read(new string('x', 1)), 30),
            new(2, KvInput.Get("a"), 40, KvOutput.Read(1L), 50), // a number is not the string
        };

        Assert.Equal(CheckOutcome.Ok, LinearizabilityChecker.Check(KvModel.Instance, history.Take(2).ToList()).Outcome);
        Assert.Equal(CheckOutcome.Illegal, LinearizabilityChecker.Check(KvModel.Instance, history).Outcome);
    }

    [Fact]
    public void SearchOutOfStepsIsUnknownNotOk()
    {
        KvHistoryBuilder history = new KvHistoryBuilder()
            .Put(1, 0, 100, "a", 1)
            .Put(2, 0, 100, "a", 2)
            .Put(3, 0, 100, "a", 3)
            .Get(4, 0, 100, "a", 1);

        CheckResult<KvInput, KvOutput> result = history.Check(new CheckOptions { MaxStepsPerPartition = 3 });

        Assert.Equal(CheckOutcome.Unknown, result.Outcome);
        Assert.Contains("more than 3 steps", result.Explanation);
        Assert.Equal(CheckOutcome.Ok, history.Check().Outcome);
    }

    [Fact]
    public void CheckPastItsTimeoutIsUnknownNotOk()
    {
        KvHistoryBuilder history = new KvHistoryBuilder()
            .Put(1, 0, 10, "a", 1)
            .Get(2, 20, 30, "a", 1);

        CheckResult<KvInput, KvOutput> result = history.Check(new CheckOptions { Timeout = TimeSpan.Zero });

        Assert.Equal(CheckOutcome.Unknown, result.Outcome);
        Assert.Contains("timed out", result.Explanation);
    }

    [Fact]
    public void OperationReturningBeforeItsCallIsRejected()
    {
        var history = new List<Operation<KvInput, KvOutput>> { new(1, KvInput.Get("a"), 10, KvOutput.Read(KvValue.Absent), 5) };

        Assert.Throws<ArgumentException>(() => LinearizabilityChecker.Check(KvModel.Instance, history));
    }

    [Fact]
    public void EmptyHistoryIsLinearizable()
    {
        Assert.Equal(CheckOutcome.Ok, new KvHistoryBuilder().Check().Outcome);
    }
}
