using BenchmarkDotNet.Attributes;
using Dotcd.Raft;

namespace Dotcd.Benchmarks.Raft;

/// <summary>
/// Proposals through RawNode for an in-memory 3-member cluster, 128-byte entries, proposed in
/// batches of BatchSize before one round of Ready handling (as a host batches under load).
/// Reported per proposal (OperationsPerInvoke), with allocations per proposal.
/// </summary>
[MemoryDiagnoser]
public class RawNodeProposalBenchmarks
{
    private const int ProposalsPerInvoke = 1024;
    private readonly byte[] _payload = new byte[128];
    private InMemoryCluster _cluster = null!;

    [Params(1, 16, 128)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup() => _cluster = new InMemoryCluster(members: 3);

    [Benchmark(OperationsPerInvoke = ProposalsPerInvoke)]
    public void ProposeCommitApply()
    {
        RawNode leader = _cluster.Leader;
        ulong target = _cluster.AppliedOnLeader + ProposalsPerInvoke;
        for (int sent = 0; sent < ProposalsPerInvoke; sent += BatchSize)
        {
            for (int j = 0; j < BatchSize; j++)
            {
                if (leader.Propose(_payload) != RaftError.None) throw new InvalidOperationException("proposal dropped");
            }
            _cluster.Stabilize();
        }
        if (_cluster.AppliedOnLeader < target) throw new InvalidOperationException("proposals not applied");
    }
}
