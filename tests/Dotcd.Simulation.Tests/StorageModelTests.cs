using Dotcd.Raft;

namespace Dotcd.Simulation.Tests;

// The simulated disk and state machine that the simulation's durability claims rest on.
public sealed class StorageModelTests
{
    private static Entry E(ulong index, ulong term) => new(term, index, EntryType.Normal, new byte[] { (byte)index });

    [Fact]
    public void UnsyncedWritesAreLostInACrash()
    {
        var disk = new SimDisk();
        disk.WriteEntries([E(1, 1), E(2, 1)]);
        disk.WriteHardState(new HardState(1, 1, 2));
        disk.Sync();
        disk.WriteEntries([E(3, 1)]);
        disk.WriteHardState(new HardState(1, 1, 3));
        disk.Crash(keep: 0);
        Assert.Equal(2UL, disk.LastIndex);
        Assert.Equal(new HardState(1, 1, 2), disk.HardState);
    }

    [Fact]
    public void ATornWriteKeepsAPrefixAndNeverACommitWithoutItsEntries()
    {
        for (int keep = 0; keep <= 4; keep++)
        {
            var disk = new SimDisk();
            disk.WriteEntries([E(1, 1)]);
            disk.WriteHardState(new HardState(1, 0, 1));
            disk.Sync();
            disk.WriteEntries([E(2, 2), E(3, 2), E(4, 2)]);
            disk.WriteHardState(new HardState(2, 0, 4));
            disk.Crash(keep);
            Assert.Equal(1UL + (ulong)Math.Min(keep, 3), disk.LastIndex);
            Assert.Equal(keep == 4 ? 4UL : 1UL, disk.HardState.Commit);
            Assert.True(disk.HardState.Commit <= disk.LastIndex);
        }
    }

    [Fact]
    public void AConflictingEntryTruncatesTheDurableTail()
    {
        var disk = new SimDisk();
        disk.WriteEntries([E(1, 1), E(2, 1), E(3, 1)]);
        disk.Sync();
        disk.WriteEntries([E(2, 2)]);
        disk.Sync();
        Assert.Equal(2UL, disk.LastIndex);
        Assert.Equal(2UL, disk.Entries[^1].Term);
    }

    [Fact]
    public void RestartStorageHoldsTheDurableSnapshotAndLog()
    {
        var disk = new SimDisk();
        disk.WriteEntries([E(1, 1), E(2, 1), E(3, 1), E(4, 1)]);
        disk.WriteHardState(new HardState(1, 1, 4));
        var conf = new ConfState { Voters = [1, 2, 3] };
        disk.WriteCompaction(new Snapshot(new byte[] { 1 }, new SnapshotMetadata(conf, 2, 1)));
        disk.Sync();
        MemoryStorage storage = disk.BuildStorage();
        Assert.Equal(3UL, storage.FirstIndex());
        Assert.Equal(4UL, storage.LastIndex());
        Assert.Equal(new HardState(1, 1, 4), storage.InitialState().HardState);
        Assert.True(storage.InitialState().ConfState.Equivalent(conf));
    }

    [Fact]
    public void CommandsAndStateSurviveTheirEncodings()
    {
        var cmd = new KvCommand(KvCommandKind.Cas, 3, 42, "k1", "c3.42", "c1.7");
        Assert.Equal(cmd, KvCommand.Decode(cmd.Encode()));
        var put = new KvCommand(KvCommandKind.Put, 1, 1, "k0", "v", null);
        Assert.Equal(put, KvCommand.Decode(put.Encode()));

        var sm = new KvStateMachine();
        sm.Apply(new Entry(1, 1, EntryType.Normal, put.Encode()), out _);
        sm.Apply(new Entry(1, 2, EntryType.Normal, cmd.Encode()), out _);
        KvStateMachine copy = KvStateMachine.Deserialize(sm.Serialize());
        Assert.Equal(sm.Applied, copy.Applied);
        Assert.Equal(sm.ChainHash, copy.ChainHash);
        Assert.Equal("v", copy.Get("k0"));
    }

    [Fact]
    public void ARequestAppliesAtMostOnce()
    {
        var sm = new KvStateMachine();
        byte[] first = new KvCommand(KvCommandKind.Put, 1, 1, "k", "a", null).Encode();
        byte[] second = new KvCommand(KvCommandKind.Put, 1, 2, "k", "b", null).Encode();
        Assert.True(sm.Apply(new Entry(1, 1, EntryType.Normal, first), out _).Applied);
        Assert.True(sm.Apply(new Entry(1, 2, EntryType.Normal, second), out _).Applied);
        // A duplicated proposal of the first request arrives late: it must not undo the second.
        Assert.False(sm.Apply(new Entry(1, 3, EntryType.Normal, first), out _).Applied);
        Assert.Equal("b", sm.Get("k"));
    }
}
