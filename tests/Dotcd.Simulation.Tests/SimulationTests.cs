namespace Dotcd.Simulation.Tests;

// Seeded runs of whole clusters. The default suite runs a few seeds per size; the command
// (dotnet run --project tests/Dotcd.Simulation -c Release -- --seeds 1000) runs many.
public sealed class SimulationTests
{
    private const int SeedsPerSize = 6;

    public static TheoryData<int, ulong> Seeds()
    {
        var data = new TheoryData<int, ulong>();
        foreach (int members in new[] { 3, 5 })
        {
            for (ulong seed = 1; seed <= SeedsPerSize; seed++) data.Add(members, seed);
        }
        return data;
    }

    [Theory, MemberData(nameof(Seeds))]
    public void ClusterStaysSafeLinearizableAndRecovers(int members, ulong seed)
    {
        SimulationResult result = ClusterSimulation.Create(seed, members).Run();
        Assert.True(result.Passed, $"seed {seed} members {members}: {result.Failure}\nreplay: dotnet run --project tests/Dotcd.Simulation -c Release -- --seed {seed} --members {members}");
        Assert.Equal("Ok", result.Stats.Linearizability);
        Assert.True(result.Stats.WritesOk > 0 && result.Stats.ReadsOk > 0, "clients made no progress");
        Assert.True(result.Stats.RecoveryTicks >= 0);
    }

    [Fact]
    public void ASeedReplaysToTheIdenticalTrace()
    {
        SimulationResult first = ClusterSimulation.Create(seed: 11, members: 5, ticks: 700).Run();
        SimulationResult second = ClusterSimulation.Create(seed: 11, members: 5, ticks: 700).Run();
        Assert.Equal(first.TraceHash, second.TraceHash);
        Assert.Equal(first.Stats.Events, second.Stats.Events);
        Assert.Equal(first.Stats.WritesOk, second.Stats.WritesOk);
        Assert.Equal(first.Failure?.ToString(), second.Failure?.ToString());
        Assert.True(first.Stats.Events > 10_000);

        SimulationResult other = ClusterSimulation.Create(seed: 12, members: 5, ticks: 700).Run();
        Assert.NotEqual(first.TraceHash, other.TraceHash);
    }

    [Fact]
    public void TheVerboseTraceOfASeedIsItsReplay()
    {
        var a = new StringWriter();
        var b = new StringWriter();
        SimulationResult first = ClusterSimulation.Create(seed: 3, members: 3, ticks: 600, verbose: a).Run();
        SimulationResult second = ClusterSimulation.Create(seed: 3, members: 3, ticks: 600, verbose: b).Run();
        Assert.Equal(a.ToString(), b.ToString());
        Assert.Equal(first.TraceHash, second.TraceHash);
        // Verbose output does not change what happens.
        Assert.Equal(ClusterSimulation.Create(seed: 3, members: 3, ticks: 600).Run().TraceHash, first.TraceHash);
    }

    [Fact]
    public void AHostThatAcknowledgesBeforeSyncingIsCaught()
    {
        // Sending messages before their entries are durable breaks Raft once a crash loses those
        // entries; the simulation must notice on some seed.
        int caught = 0;
        for (ulong seed = 1; seed <= 15 && caught == 0; seed++)
        {
            var sim = ClusterSimulation.Create(seed, members: 3, ticks: 600);
            sim.BreakDurabilityForTests = true;
            if (!sim.Run().Passed) caught++;
        }
        Assert.True(caught > 0, "a host that skips fsync was never caught");
    }
}
