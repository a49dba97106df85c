namespace Dotcd.Storage.WalFiles;

/// <summary>What a WAL record's payload holds. Numbered as etcd's walpb record types.</summary>
internal enum WalRecordType : byte
{
    Metadata = 1, // Opaque bytes from the server (node id, cluster id); repeated at the head of every segment.
    Entry = 2,    // A raftpb.Entry.
    State = 3,    // A raftpb.HardState.
    Crc = 4,      // Empty payload; first record of every segment, its prevCrc seeds the segment's chain.
    Snapshot = 5, // A walpb.Snapshot: the index, term and conf state of a snapshot file that was saved.
}
