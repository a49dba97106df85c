using Dotcd.Simulation.Linearizability;

namespace Dotcd.Simulation.Tests.Linearizability;

public sealed class HistoryRecorderTests
{
    [Fact]
    public void RecorderKeepsUnansweredCallsAsUnknownAndDropsForgottenOnes()
    {
        var recorder = new HistoryRecorder<KvInput, KvOutput>(KvOutput.Unknown);
        int put = recorder.Invoke(1, KvInput.Put("a", 1), 0);
        int timedOut = recorder.Invoke(2, KvInput.Put("a", 2), 5);
        int failedRead = recorder.Invoke(3, KvInput.Get("a"), 6);
        recorder.Return(put, KvOutput.Done, 10);
        recorder.Forget(failedRead);
        int read = recorder.Invoke(3, KvInput.Get("a"), 20);
        recorder.Return(read, KvOutput.Read(2), 30);

        IReadOnlyList<Operation<KvInput, KvOutput>> history = recorder.Build();

        Assert.Equal(3, history.Count);
        Assert.Equal(10, history[0].ReturnTicks);
        Assert.True(history[1].NeverReturned);
        Assert.True(history[1].Output.IsUnknown);
        Assert.Equal(1, timedOut);
        Assert.Equal(KvOp.Get, history[2].Input.Op);
        Assert.Equal(CheckOutcome.Ok, LinearizabilityChecker.Check(KvModel.Instance, history).Outcome);
        Assert.Throws<InvalidOperationException>(() => recorder.Return(put, KvOutput.Done, 40));
        Assert.Throws<ArgumentOutOfRangeException>(() => recorder.Return(timedOut, KvOutput.Done, 1));
    }
}
