namespace Dotcd.Mvcc.Backend;

/// <summary>etcd's bbolt buckets; each is a SQLite table of the same name holding (k, v) blobs.</summary>
public enum Bucket
{
    Key,
    Meta,
    Lease,
    Auth,
    AuthUsers,
    AuthRoles,
    Members,
    MembersRemoved,
    Alarm,
    Cluster,
}

internal static class Buckets
{
    public static readonly Bucket[] All =
    [
        Bucket.Key, Bucket.Meta, Bucket.Lease, Bucket.Auth, Bucket.AuthUsers, Bucket.AuthRoles,
        Bucket.Members, Bucket.MembersRemoved, Bucket.Alarm, Bucket.Cluster,
    ];

    // Bucket names in bbolt's cursor order (bytewise), the order etcd's backend hash visits them.
    public static readonly Bucket[] InBoltOrder = All
        .OrderBy(b => Name(b), StringComparer.Ordinal)
        .ToArray();

    public static string Name(Bucket bucket) => bucket switch
    {
        Bucket.Key => "key",
        Bucket.Meta => "meta",
        Bucket.Lease => "lease",
        Bucket.Auth => "auth",
        Bucket.AuthUsers => "authUsers",
        Bucket.AuthRoles => "authRoles",
        Bucket.Members => "members",
        Bucket.MembersRemoved => "members_removed",
        Bucket.Alarm => "alarm",
        Bucket.Cluster => "cluster",
        _ => throw new ArgumentOutOfRangeException(nameof(bucket)),
    };

    // Not an etcd bucket: each live key's newest row, so current reads are one ordered scan.
    // Derived from "key"; rebuilt at open when it disagrees with the index.
    public const string LatestTable = "dotcd_latest";

    public static readonly string[] Schema =
    [
        .. All.Select(b => $"CREATE TABLE IF NOT EXISTS \"{Name(b)}\" (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID"),
        $"CREATE TABLE IF NOT EXISTS {LatestTable} (k BLOB PRIMARY KEY NOT NULL, main INTEGER NOT NULL, sub INTEGER NOT NULL, v BLOB NOT NULL) WITHOUT ROWID",
    ];
}

/// <summary>Keys of the meta bucket (etcd's names).</summary>
internal static class MetaKeys
{
    public static ReadOnlySpan<byte> ConsistentIndex => "consistent_index"u8;
    public static ReadOnlySpan<byte> ScheduledCompactRevision => "scheduledCompactRev"u8;
    public static ReadOnlySpan<byte> FinishedCompactRevision => "finishedCompactRev"u8;
}
