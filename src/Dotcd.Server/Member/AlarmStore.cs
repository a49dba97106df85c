using Dotcd.Api.Etcdserverpb;
using Dotcd.Mvcc;
using Dotcd.Mvcc.Backend;
using Dotcd.Server.Services;
using Google.Protobuf;

namespace Dotcd.Server.Composition;

/// <summary>
/// The cluster's raised alarms (etcd's alarm.AlarmStore), changed only by applied Alarm requests
/// and kept in the backend's alarm bucket, so a NOSPACE alarm survives a restart.
/// </summary>
/// <remarks>
/// Bucket "alarm": key = the AlarmMember protobuf {memberID: 1 varint, alarm: 2 varint}, value empty
/// (etcd's encoding, so the bucket converts to an etcd snapshot as it is).
/// Written by the apply thread; read by any thread through an immutable array swapped on change.
/// </remarks>
public sealed class AlarmStore : IAlarmList
{
    private AlarmMember[] _alarms; // Sorted by (alarm, member); replaced, never mutated.

    private AlarmStore(AlarmMember[] alarms) => _alarms = alarms;

    /// <summary>Loads the alarms the backend holds.</summary>
    public static AlarmStore Load(MvccStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var alarms = new List<AlarmMember>();
        foreach (KeyValuePair<byte[], byte[]> row in store.ReadBucket(Bucket.Alarm))
        {
            alarms.Add(AlarmMember.Parser.ParseFrom(row.Key));
        }

        return new AlarmStore(Sorted(alarms));
    }

    /// <summary>True while a NOSPACE alarm is raised: writes that add data are refused.</summary>
    public bool NoSpace => Array.Exists(Volatile.Read(ref _alarms), a => a.Alarm == AlarmType.Nospace);

    public IReadOnlyList<AlarmMember> Alarms() => Volatile.Read(ref _alarms);

    /// <summary>The alarms of one type; None means all (etcd's Get).</summary>
    public IReadOnlyList<AlarmMember> Get(AlarmType type) =>
        type == AlarmType.None ? Alarms() : Array.FindAll(Volatile.Read(ref _alarms), a => a.Alarm == type);

    /// <summary>Raises an alarm inside the apply batch; returns it, or null when it was raised already.</summary>
    internal AlarmMember? Activate(MvccStore.WriteBatch batch, ulong memberId, AlarmType type)
    {
        AlarmMember[] current = Volatile.Read(ref _alarms);
        if (Array.Exists(current, a => a.MemberID == memberId && a.Alarm == type))
        {
            return null;
        }

        var alarm = new AlarmMember { MemberID = memberId, Alarm = type };
        batch.Put(Bucket.Alarm, alarm.ToByteArray(), []);
        Volatile.Write(ref _alarms, Sorted([.. current, alarm]));
        return alarm;
    }

    /// <summary>Clears an alarm inside the apply batch; returns it, or null when it was not raised.</summary>
    internal AlarmMember? Deactivate(MvccStore.WriteBatch batch, ulong memberId, AlarmType type)
    {
        AlarmMember[] current = Volatile.Read(ref _alarms);
        AlarmMember? found = Array.Find(current, a => a.MemberID == memberId && a.Alarm == type);
        if (found is null)
        {
            return null;
        }

        batch.Delete(Bucket.Alarm, found.ToByteArray());
        Volatile.Write(ref _alarms, Array.FindAll(current, a => !ReferenceEquals(a, found)));
        return found;
    }

    private static AlarmMember[] Sorted(IEnumerable<AlarmMember> alarms) =>
        [.. alarms.OrderBy(a => (int)a.Alarm).ThenBy(a => a.MemberID)];
}
