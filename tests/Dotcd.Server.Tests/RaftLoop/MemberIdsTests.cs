using Dotcd.Server.RaftLoop;

namespace Dotcd.Server.Tests.RaftLoop;

public sealed class MemberIdsTests
{
    // Obtained by running the real etcd 3.4.23 (/usr/bin/etcd) on loopback in a temp dir with
    // default flags except the URLs (--name default, peer URL http://localhost:2380, token
    // etcd-cluster) and reading `etcdctl member list -w json`: member 10276657743932975437
    // (8e9e05c52164694d), header cluster_id 14841639068965178418 (cdf818194e3a8c32).
    [Fact]
    public void DefaultMemberGetsTheIdsEtcdGivesIt()
    {
        InitialCluster cluster = InitialCluster.Create("etcd-cluster", [("default", (IReadOnlyList<string>)["http://localhost:2380"])]);

        Assert.Equal(10276657743932975437UL, cluster.Members[0].Id);
        Assert.Equal("8e9e05c52164694d", MemberIds.ToHex(cluster.Members[0].Id));
        Assert.Equal(14841639068965178418UL, cluster.ClusterId);
    }

    // Obtained from the real etcd 3.4.23 started with --name solo --initial-cluster-token raftloop-token
    // --initial-advertise-peer-urls http://localhost:42391,http://127.0.0.1:42390 (unsorted on
    // purpose) and the matching --initial-cluster; `etcdctl member list -w json` printed
    // ID 16234404898686823011, peerURLs sorted, cluster_id 3462730829693486945.
    [Fact]
    public void MemberWithSeveralPeerUrlsHashesThemSorted()
    {
        InitialCluster cluster = InitialCluster.Create("raftloop-token",
            [("solo", (IReadOnlyList<string>)["http://localhost:42391", "http://127.0.0.1:42390"])]);

        InitialMember solo = Assert.Single(cluster.Members);
        Assert.Equal(16234404898686823011UL, solo.Id);
        Assert.Equal(["http://127.0.0.1:42390", "http://localhost:42391"], solo.PeerUrls);
        Assert.Equal(3462730829693486945UL, cluster.ClusterId);
    }

    // Obtained from the real etcd 3.4.23 started as n1 of --initial-cluster
    // n1=http://127.0.0.1:42380,n2=http://127.0.0.1:42381,n3=http://127.0.0.1:42382 with
    // --initial-cluster-token raftloop-token; without a quorum the client port never served, so
    // the IDs come from its log: "starting member 15e9a4bf4030e190 in cluster 7501580534978980",
    // "added member 82695e1beefc7a9d [http://127.0.0.1:42382]", "added member f64e1ea043dfea36
    // [http://127.0.0.1:42381]", and raft's "switched to configuration voters=(1578974285692723600
    // 9397145571551902365 17748156855196052022)" (the bootstrap order: ascending IDs).
    [Fact]
    public void ThreeMemberClusterGetsEtcdsIdsInBootstrapOrder()
    {
        InitialCluster cluster = InitialCluster.Create("raftloop-token",
        [
            ("n1", (IReadOnlyList<string>)["http://127.0.0.1:42380"]),
            ("n2", (IReadOnlyList<string>)["http://127.0.0.1:42381"]),
            ("n3", (IReadOnlyList<string>)["http://127.0.0.1:42382"]),
        ]);

        Assert.Equal(0x15e9a4bf4030e190UL, cluster.MemberByName("n1")!.Id);
        Assert.Equal(0xf64e1ea043dfea36UL, cluster.MemberByName("n2")!.Id);
        Assert.Equal(0x82695e1beefc7a9dUL, cluster.MemberByName("n3")!.Id);
        Assert.Equal(0x7501580534978980UL, cluster.ClusterId);
        Assert.Equal([1578974285692723600UL, 9397145571551902365UL, 17748156855196052022UL], cluster.Members.Select(m => m.Id));
    }

    [Fact]
    public void MembersAddedAtRuntimeMixTheTimeIntoTheirId()
    {
        string[] urls = ["http://10.0.0.4:2380"];
        ulong atBootstrap = MemberIds.ComputeMemberId(urls, "etcd-cluster");
        ulong added = MemberIds.ComputeMemberId(urls, "etcd-cluster", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        ulong addedLater = MemberIds.ComputeMemberId(urls, "etcd-cluster", DateTimeOffset.FromUnixTimeSeconds(1_700_000_001));

        Assert.NotEqual(atBootstrap, added);
        Assert.NotEqual(added, addedLater);
        Assert.Equal(added, MemberIds.ComputeMemberId(urls, "etcd-cluster", DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_999)));
    }

    [Fact]
    public void TwoNamesWithTheSamePeerUrlsAreRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => InitialCluster.Create("t",
            [("a", (IReadOnlyList<string>)["http://h:1"]), ("b", (IReadOnlyList<string>)["http://h:1"])]));
        Assert.Contains("member exists with identical ID", error.Message);
    }

    [Fact]
    public void RequestIdsCarryTheMemberIdPrefixAndIncrease()
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(0x12_3456_789A);
        var ids = new RequestIdGenerator(0x8e9e05c52164694dUL, time);

        ulong first = ids.Next();
        ulong second = ids.Next();
        // | 0x694d (member ID low 16 bits) | 0x123456789A (milliseconds, low 40 bits) | counter |
        Assert.Equal(0x694d_12_3456_789A_01UL, first);
        Assert.Equal(first + 1, second);
        var concurrent = new System.Collections.Concurrent.ConcurrentBag<ulong>();
        Parallel.For(0, 10_000, _ => concurrent.Add(ids.Next()));
        Assert.Equal(10_000, concurrent.Distinct().Count());
    }
}
