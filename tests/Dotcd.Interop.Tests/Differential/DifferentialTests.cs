using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.Differential;

/// <summary>
/// Ring 4: the same etcdctl scenario against two servers must give the same normalized
/// transcript. etcd against etcd proves the harness and the normalizer (it runs today);
/// etcd against dotcd is the real test.
/// </summary>
public sealed class DifferentialTests
{
    [Fact]
    public Task TwoEtcdMembersGiveIdenticalTranscripts() => CompareAsync(MemberKind.Etcd, MemberKind.Etcd);

    [Fact(Skip = TestSwitches.DotcdNotServing)]
    public Task DifferentialAgainstDotcd() => CompareAsync(MemberKind.Etcd, MemberKind.Dotcd);

    private static async Task CompareAsync(MemberKind reference, MemberKind candidate)
    {
        // The two runs are independent; in parallel they take half the wall time.
        Task<Transcript> referenceRun = RunAsync(reference);
        Task<Transcript> candidateRun = RunAsync(candidate);
        Transcript expected = await referenceRun;
        Transcript actual = await candidateRun;

        string expectedPath = expected.Save($"differential-{reference}-reference");
        string actualPath = actual.Save($"differential-{candidate}-candidate");
        IReadOnlyList<string> unmet = expected.UnmetExpectations();
        Assert.True(unmet.Count == 0, $"the reference run no longer shows what the scenario is for ({expectedPath}):\n\n" + string.Join("\n\n", unmet));

        IReadOnlyList<string> differences = Transcript.Differences(expected, actual);
        Assert.True(
            differences.Count == 0,
            $"{differences.Count} of {expected.Entries.Count} steps differ (transcripts: {expectedPath}, {actualPath}):\n\n" +
            string.Join("\n\n", differences.Take(5)));
    }

    private static async Task<Transcript> RunAsync(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        return await Transcript.RunAsync(member, DifferentialScenario.Steps);
    }
}
