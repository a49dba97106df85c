using Dotcd.Interop.Tests.Harness;

namespace Dotcd.Interop.Tests.Differential;

/// <summary>
/// Ring 4: the same etcdctl scenario against two servers must give the same normalized
/// transcript. etcd against etcd proves the harness and the normalizer (it runs today);
/// etcd against dotcd is the real test.
/// </summary>
public sealed class DifferentialTests
{
    [Theory]
    [InlineData(ScenarioPart.Core)]
    [InlineData(ScenarioPart.Leases)]
    [InlineData(ScenarioPart.SnapshotFile)]
    public Task TwoEtcdMembersGiveIdenticalTranscripts(ScenarioPart part) => CompareAsync(part, MemberKind.Etcd, MemberKind.Etcd);

    [Fact]
    public Task DotcdGivesEtcdsTranscriptForTheCoreScenario() => CompareAsync(ScenarioPart.Core, MemberKind.Etcd, MemberKind.Dotcd);

    [Fact]
    public Task DotcdGivesEtcdsTranscriptForTheLeaseScenario() => CompareAsync(ScenarioPart.Leases, MemberKind.Etcd, MemberKind.Dotcd);

    [Fact]
    public Task DotcdGivesEtcdsTranscriptForTheSnapshotFileScenario() => CompareAsync(ScenarioPart.SnapshotFile, MemberKind.Etcd, MemberKind.Dotcd);

    private static async Task CompareAsync(ScenarioPart part, MemberKind reference, MemberKind candidate)
    {
        // The two runs are independent; in parallel they take half the wall time.
        Task<Transcript> referenceRun = RunAsync(reference, part);
        Task<Transcript> candidateRun = RunAsync(candidate, part);
        Transcript expected = await referenceRun;
        Transcript actual = await candidateRun;

        string expectedPath = expected.Save($"differential-{part}-{reference}-reference");
        string actualPath = actual.Save($"differential-{part}-{candidate}-candidate");
        IReadOnlyList<string> unmet = expected.UnmetExpectations();
        Assert.True(unmet.Count == 0, $"the reference run no longer shows what the scenario is for ({expectedPath}):\n\n" + string.Join("\n\n", unmet));

        IReadOnlyList<string> differences = Transcript.Differences(expected, actual);
        Assert.True(
            differences.Count == 0,
            $"{differences.Count} of {expected.Entries.Count} steps differ (transcripts: {expectedPath}, {actualPath}):\n\n" +
            string.Join("\n\n", differences.Take(5)));
    }

    private static async Task<Transcript> RunAsync(MemberKind kind, ScenarioPart part)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        return await Transcript.RunAsync(member, DifferentialScenario.For(part));
    }
}
