using System.Security.Cryptography;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;

namespace Dotcd.Client.Tests;

/// <summary>One etcd for the Maintenance and Cluster classes: they change member-wide state, so they run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class AdminEtcd : ICollectionFixture<EtcdServer>
{
    public const string Name = "admin etcd";
}

[Collection(AdminEtcd.Name)]
public sealed class MaintenanceTests(EtcdServer etcd) : IDisposable
{
    private readonly EtcdClient _client = etcd.CreateClient();

    private MaintenanceClient Maintenance => _client.Maintenance;

    public void Dispose() => _client.Dispose();

    [EtcdFact]
    public async Task StatusDescribesTheMember()
    {
        StatusResponse status = await Maintenance.StatusAsync();

        Assert.StartsWith("3.", status.Version);
        Assert.Equal(status.Header.MemberId, status.Leader);
        Assert.True(status.DbSize > 0);
        Assert.True(status.RaftIndex > 0);
        Assert.True(status.RaftTerm > 0);

        StatusResponse byEndpoint = await Maintenance.StatusAsync(etcd.Endpoint);
        Assert.Equal(status.Header.MemberId, byEndpoint.Header.MemberId);
        StatusResponse bareAddress = await Maintenance.StatusAsync($"127.0.0.1:{etcd.ClientPort}");
        Assert.Equal(status.Header.MemberId, bareAddress.Header.MemberId);
    }

    [EtcdFact]
    public async Task HashKVChangesWithTheStoreAndIsStableAtARevision()
    {
        long revision = (await _client.KV.PutAsync("/hash/" + Guid.NewGuid().ToString("N"), "1")).Header.Revision;
        HashKVResponse atRevision = await Maintenance.HashKVAsync(revision);
        await _client.KV.PutAsync("/hash/" + Guid.NewGuid().ToString("N"), "2");

        HashKVResponse again = await Maintenance.HashKVAsync(revision);
        HashKVResponse current = await Maintenance.HashKVAsync();
        Assert.Equal(atRevision.Hash, again.Hash);
        Assert.NotEqual(atRevision.Hash, current.Hash);
        Assert.True(current.Header.Revision > revision);

        HashResponse hash = await Maintenance.HashAsync(etcd.Endpoint);
        Assert.NotEqual(0u, hash.Hash);
    }

    [EtcdFact]
    public async Task NoSpaceAlarmStopsWritesUntilDisarmed()
    {
        StatusResponse status = await Maintenance.StatusAsync();
        ulong member = status.Header.MemberId;
        string key = "/alarm/" + Guid.NewGuid().ToString("N");
        try
        {
            await Maintenance.AlarmActivateAsync(member, AlarmType.Nospace);

            AlarmMember raised = Assert.Single((await Maintenance.AlarmListAsync()).Alarms);
            Assert.Equal(member, raised.MemberID);
            Assert.Equal(AlarmType.Nospace, raised.Alarm);
            var refused = await Assert.ThrowsAsync<EtcdException>(() => _client.KV.PutAsync(key, "v"));
            Assert.True(refused.IsNoSpace);
            Assert.Equal(StatusCode.ResourceExhausted, refused.Code);
            Assert.Equal("etcdserver: mvcc: database space exceeded", refused.Message);

            AlarmResponse cleared = await Maintenance.AlarmDisarmAllAsync();
            Assert.Equal(AlarmType.Nospace, Assert.Single(cleared.Alarms).Alarm);
            Assert.Empty((await Maintenance.AlarmListAsync()).Alarms);
            await _client.KV.PutAsync(key, "v");

            await Maintenance.AlarmActivateAsync(member, AlarmType.Nospace);
            await Maintenance.AlarmDisarmAsync(member, AlarmType.Nospace);
            Assert.Empty((await Maintenance.AlarmListAsync()).Alarms);
        }
        finally
        {
            await Maintenance.AlarmDisarmAllAsync();
        }
    }

    [EtcdFact]
    public async Task DefragmentAnswersForTheEndpointAndKeepsTheData()
    {
        string key = "/defrag/" + Guid.NewGuid().ToString("N");
        await _client.KV.PutAsync(key, "survives");

        await Maintenance.DefragmentAsync();
        await Maintenance.DefragmentAsync(etcd.Endpoint);

        Assert.Equal("survives", Assert.Single((await _client.KV.GetAsync(key)).Kvs).Value.ToStringUtf8());
    }

    [EtcdFact]
    public async Task SnapshotStreamsTheDatabaseWithItsVerifiedChecksum()
    {
        await _client.KV.PutAsync("/snapshot/" + Guid.NewGuid().ToString("N"), "in the snapshot");
        using var file = new MemoryStream();

        SnapshotInfo info = await Maintenance.SnapshotAsync(file);

        byte[] bytes = file.ToArray();
        Assert.Equal(bytes.Length, info.Size);
        Assert.Equal(32, bytes.Length % 512);
        Assert.Equal(SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32)), bytes[^32..]);
        Assert.True(bytes.AsSpan().IndexOf("in the snapshot"u8) >= 0); // bbolt stores values as written.
    }

    [EtcdctlFact]
    public async Task EtcdctlRestoresTheSnapshotAfterCheckingItsDigest()
    {
        string directory = Directory.CreateTempSubdirectory("dotcd-client-snapshot-").FullName;
        try
        {
            string path = Path.Combine(directory, "snap.db");
            await using (FileStream file = File.Create(path))
            {
                await Maintenance.SnapshotAsync(file);
            }

            (int exit, string output) = await Tools.RunAsync(Tools.Etcdctl, "snapshot", "restore", path, "--data-dir", Path.Combine(directory, "restored"));
            Assert.True(exit == 0, output);
            Assert.True(Directory.Exists(Path.Combine(directory, "restored", "member", "snap")));

            // The same file with one flipped byte fails etcdctl's digest check: the check is real.
            byte[] bytes = await File.ReadAllBytesAsync(path);
            bytes[4096] ^= 0xff;
            await File.WriteAllBytesAsync(path, bytes);
            (int corruptExit, string corruptOutput) = await Tools.RunAsync(Tools.Etcdctl, "snapshot", "restore", path, "--data-dir", Path.Combine(directory, "corrupt"));
            Assert.NotEqual(0, corruptExit);
            Assert.Contains("expected sha256", corruptOutput);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [EtcdFact]
    public async Task MoveLeaderFindsTheLeaderAndRejectsABadTransferee()
    {
        StatusResponse status = await Maintenance.StatusAsync();

        await Maintenance.MoveLeaderAsync(status.Header.MemberId); // To itself: already done.

        var error = await Assert.ThrowsAsync<EtcdException>(() => Maintenance.MoveLeaderAsync(0xbad));
        Assert.Equal(EtcdError.BadLeaderTransferee, error.Error);
        Assert.Equal(StatusCode.FailedPrecondition, error.Code);
    }
}

[Collection(AdminEtcd.Name)]
public sealed class ClusterTests(EtcdServer etcd) : IDisposable
{
    private readonly EtcdClient _client = etcd.CreateClient();

    private ClusterClient Cluster => _client.Cluster;

    public void Dispose() => _client.Dispose();

    [EtcdFact]
    public async Task MemberListShowsTheOneStartedMember()
    {
        MemberListResponse list = await Cluster.MemberListAsync();

        Member member = Assert.Single(list.Members);
        Assert.Equal("client-test", member.Name);
        Assert.Equal([etcd.Endpoint], member.ClientURLs);
        Assert.False(member.IsLearner);
        Assert.Equal(list.Header.MemberId, member.ID);
        Assert.Single((await Cluster.MemberListAsync(linearizable: true)).Members);
    }

    [EtcdFact]
    public async Task LearnerCanBeAddedUpdatedAndRemoved()
    {
        string peer = $"http://127.0.0.1:{EtcdServer.FreePort()}";
        MemberAddResponse added = await Cluster.MemberAddAsync([peer], isLearner: true);
        ulong learner = added.Member.ID;
        try
        {
            Assert.True(added.Member.IsLearner);
            Assert.Equal(2, added.Members.Count);

            var duplicate = await Assert.ThrowsAsync<EtcdException>(() => Cluster.MemberAddAsync([peer], isLearner: true));
            // etcd derives a new member's ID from its peer URLs and the current second, so a
            // duplicate within the same second collides on the ID before the URL check.
            Assert.Contains(duplicate.Error, new[] { EtcdError.PeerUrlExist, EtcdError.MemberExist });
            Assert.Equal(StatusCode.FailedPrecondition, duplicate.Code);

            string moved = $"http://127.0.0.1:{EtcdServer.FreePort()}";
            MemberUpdateResponse updated = await Cluster.MemberUpdateAsync(learner, [moved]);
            Assert.Equal([moved], updated.Members.Single(m => m.ID == learner).PeerURLs);

            // A learner that never started cannot be in sync with the leader.
            var promote = await Assert.ThrowsAsync<EtcdException>(() => Cluster.MemberPromoteAsync(learner));
            Assert.Equal(EtcdError.LearnerNotReady, promote.Error);
            var notLearner = await Assert.ThrowsAsync<EtcdException>(() => Cluster.MemberPromoteAsync(added.Header.MemberId));
            Assert.Equal(EtcdError.MemberNotLearner, notLearner.Error);
        }
        finally
        {
            MemberRemoveResponse removed = await Cluster.MemberRemoveAsync(learner);
            Assert.Single(removed.Members);
        }

        var gone = await Assert.ThrowsAsync<EtcdException>(() => Cluster.MemberRemoveAsync(learner));
        Assert.Equal(EtcdError.MemberNotFound, gone.Error);
        Assert.Equal(StatusCode.NotFound, gone.Code);
    }
}
