using Dotcd.Raft;
using Dotcd.Server.RaftLoop;
using static Dotcd.Server.Tests.RaftLoop.RaftLoopTest;

namespace Dotcd.Server.Tests.RaftLoop;

/// <summary>
/// An in-process network between members: Send hands each message to the addressee's StepAsync
/// unless either end is cut off. Stands in for the peer transport the clustering work adds.
/// </summary>
internal sealed class LoopbackNetwork
{
    private readonly Dictionary<ulong, RaftNodeHost> _hosts = new();
    private readonly HashSet<ulong> _isolated = new();
    private readonly Lock _lock = new();

    public IPeerTransport TransportFor(ulong id) => new Transport(this, id);

    public void Add(RaftNodeHost host)
    {
        lock (_lock) _hosts[host.MemberId] = host;
    }

    public void Isolate(ulong id)
    {
        lock (_lock) _isolated.Add(id);
    }

    public void Heal()
    {
        lock (_lock) _isolated.Clear();
    }

    private void Deliver(ulong from, IReadOnlyList<Message> messages)
    {
        foreach (Message message in messages)
        {
            RaftNodeHost? to;
            lock (_lock)
            {
                if (_isolated.Contains(from) || _isolated.Contains(message.To)) continue;
                if (!_hosts.TryGetValue(message.To, out to)) continue;
            }
            _ = StepQuietly(to, message);
        }
    }

    private static async Task StepQuietly(RaftNodeHost to, Message message)
    {
        try
        {
            await to.StepAsync(message);
        }
        catch (EtcdServerException)
        {
            // The addressee stopped: the message is lost, as on a real network.
        }
    }

    private sealed class Transport(LoopbackNetwork network, ulong self) : IPeerTransport
    {
        public void Send(IReadOnlyList<Message> messages) => network.Deliver(self, messages);
    }
}

public sealed class ThreeMemberTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly LoopbackNetwork _network = new();
    private readonly List<(RaftNodeHost Host, FileKvTarget Target)> _members = new();

    public ThreeMemberTests()
    {
        InitialCluster cluster = InitialCluster.Create("loopback",
        [
            ("a", (IReadOnlyList<string>)["http://127.0.0.1:1"]),
            ("b", (IReadOnlyList<string>)["http://127.0.0.1:2"]),
            ("c", (IReadOnlyList<string>)["http://127.0.0.1:3"]),
        ]);
        foreach (string name in new[] { "a", "b", "c" })
        {
            var dir = new TempDirView(_dir, name);
            var target = new FileKvTarget(dir.Sub("kv"));
            RaftNodeOptions options = Options(dir.Root, cluster, name) with
            {
                Log = Options(dir.Root).Log with { WalDir = dir.Sub("wal"), SnapDir = dir.Sub("snap") },
                Random = new SeededRaftRandom((ulong)name[0]),
                ElectionTicks = 10, // 100 ms: steady leadership on a busy machine.
                RequestTimeout = TimeSpan.FromSeconds(5),
            };
            ulong id = cluster.MemberByName(name)!.Id;
            RaftNodeHost host = RaftNodeHost.Start(options, target, _network.TransportFor(id));
            _network.Add(host);
            _members.Add((host, target));
        }
    }

    public void Dispose()
    {
        foreach ((RaftNodeHost host, _) in _members) host.Dispose();
        _dir.Dispose();
    }

    private async Task<RaftNodeHost> LeaderAsync(Func<RaftNodeHost, bool>? among = null)
    {
        RaftNodeHost? leader = null;
        await Eventually(() =>
        {
            leader = _members.Select(m => m.Host).Where(among ?? (_ => true)).FirstOrDefault(h => h.IsLeader);
            return leader is not null;
        }, "a leader is elected");
        return leader!;
    }

    [Fact]
    public async Task MembersElectOneLeaderAndAllApplyEveryWrite()
    {
        RaftNodeHost leader = await LeaderAsync();
        RaftNodeHost follower = _members.Select(m => m.Host).First(h => h != leader);
        await follower.WaitForLeaderAsync(new CancellationTokenSource(Patience).Token);

        Assert.Equal(1, RevisionOf(await leader.ProposeAsync(Put("k1", "from-leader"))));
        Assert.Equal(2, RevisionOf(await follower.ProposeAsync(Put("k2", "from-follower")))); // Forwarded to the leader.

        await Eventually(() => _members.All(m => m.Target.Get("k2") == "from-follower"), "every member applied both writes");
        Assert.All(_members, m => Assert.Equal("from-leader", m.Target.Get("k1")));
        Assert.All(_members, m => Assert.Equal(leader.MemberId, m.Host.Leader));
        Assert.Equal(3, leader.ConfState.Voters.Count);
    }

    [Fact]
    public async Task AFollowersLinearizableReadSeesTheLeadersCompletedWrite()
    {
        RaftNodeHost leader = await LeaderAsync();
        RaftNodeHost follower = _members.Select(m => m.Host).First(h => h != leader);
        FileKvTarget followerState = _members.First(m => m.Host == follower).Target;
        await follower.WaitForLeaderAsync(new CancellationTokenSource(Patience).Token);

        for (int i = 0; i < 5; i++)
        {
            await leader.ProposeAsync(Put("k", $"v{i}"));
            await follower.WaitLinearizableAsync(); // ReadIndex through the leader's heartbeat round.
            Assert.Equal($"v{i}", followerState.Get("k"));
        }
    }

    [Fact]
    public async Task MoveLeaderHandsLeadershipToTheTransferee()
    {
        RaftNodeHost leader = await LeaderAsync();
        RaftNodeHost transferee = _members.Select(m => m.Host).First(h => h != leader);
        await leader.ProposeAsync(Put("k", "v"));
        await Eventually(() => transferee.AppliedIndex >= leader.AppliedIndex, "the transferee caught up");

        await leader.MoveLeaderAsync(transferee.MemberId);

        Assert.Equal(transferee.MemberId, leader.Leader);
        Assert.False(leader.IsLeader);
        var error = await Assert.ThrowsAsync<EtcdServerException>(() => leader.MoveLeaderAsync(leader.MemberId));
        Assert.Equal("etcdserver: not leader", error.Message);
    }

    [Fact]
    public async Task AProposalOverwrittenByANewLeaderFailsWithLeaderChanged()
    {
        RaftNodeHost oldLeader = await LeaderAsync();
        await oldLeader.ProposeAsync(Put("k", "before"));

        // Cut the leader off: it accepts a proposal in its term that can never commit.
        _network.Isolate(oldLeader.MemberId);
        Task<ApplyResult> lost = oldLeader.ProposeAsync(Put("k", "lost"));
        RaftNodeHost newLeader = await LeaderAsync(h => h != oldLeader);
        Assert.Equal(2, RevisionOf(await newLeader.ProposeAsync(Put("k", "after"))));

        // Back on the network, the old leader takes the new leader's log over its own tail.
        _network.Heal();
        var error = await Assert.ThrowsAsync<EtcdServerException>(() => lost);
        Assert.Equal("etcdserver: leader changed", error.Message);
        await Eventually(() => _members.All(m => m.Target.Get("k") == "after"), "every member applied the new leader's write");
        Assert.Equal(2, _members.First(m => m.Host == oldLeader).Target.Revision);
    }
}

/// <summary>A member's own subdirectory of the test's temp dir.</summary>
internal sealed class TempDirView(TempDir dir, string name)
{
    public TempDir Root => dir;

    public string Sub(string child) => dir.Sub(Path.Combine(name, child));
}
