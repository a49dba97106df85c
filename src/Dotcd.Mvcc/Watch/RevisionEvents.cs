using Dotcd.Api.Mvccpb;
using Google.Protobuf;

namespace Dotcd.Mvcc.Watch;

/// <summary>One event of a revision, encoded once as mvccpb.Event bytes and shared by every
/// watcher and stream it goes to.</summary>
public sealed class WatchEvent
{
    // mvccpb.Event: type = 1 (varint, PUT = 0 omitted), kv = 2 (KeyValue), prev_kv = 3 (KeyValue).
    // WithPrevKv is Encoded followed by field 3: protobuf fields may be concatenated.
    private const byte PrevKvTag = (3 << 3) | 2;

    private byte[]? _withPrevKv; // Written once under the owning RevisionEvents' lock.

    internal WatchEvent(MvccChange change)
    {
        Key = change.Kv.Key.ToByteArray();
        IsDelete = change.IsDelete;
        Previous = change.Previous;
        IsCreate = !change.IsDelete && change.Kv.CreateRevision == change.Kv.ModRevision;
        Encoded = change.ToEvent().ToByteArray();
    }

    /// <summary>The user key (for matching watchers).</summary>
    public byte[] Key { get; }

    public bool IsDelete { get; }

    /// <summary>A PUT that created the key: it has no previous value.</summary>
    public bool IsCreate { get; }

    /// <summary>The revision of the key's previous state, or default when there was none.</summary>
    public Revision Previous { get; }

    /// <summary>The mvccpb.Event without prev_kv.</summary>
    public byte[] Encoded { get; }

    /// <summary>The mvccpb.Event with prev_kv when one was found; call <see cref="RevisionEvents.LoadPrevious"/> first.</summary>
    public byte[] EncodedWithPrevKv => _withPrevKv ?? Encoded;

    internal void SetPrevious(KeyValue? previous)
    {
        if (previous is null)
        {
            _withPrevKv = Encoded;
            return;
        }
        int size = previous.CalculateSize();
        var bytes = new byte[Encoded.Length + 1 + CodedOutputStream.ComputeLengthSize(size) + size];
        Encoded.CopyTo(bytes, 0);
        var tail = new Span<byte>(bytes, Encoded.Length, bytes.Length - Encoded.Length);
        tail[0] = PrevKvTag;
        int n = WriteVarint(tail[1..], (uint)size);
        previous.WriteTo(tail[(1 + n)..]);
        _withPrevKv = bytes;
    }

    private static int WriteVarint(Span<byte> destination, uint value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }
}

/// <summary>All events of one revision, in op order: the unit the watch fan-out shares.</summary>
public sealed class RevisionEvents
{
    private readonly Lock _prevLock = new();
    private volatile bool _previousLoaded;

    internal RevisionEvents(long revision, WatchEvent[] events)
    {
        Revision = revision;
        Events = events;
    }

    public long Revision { get; }

    public WatchEvent[] Events { get; }

    /// <summary>Reads every event's previous value once (the first prev_kv watcher pays; the
    /// rest share it). A previous value compacted away in the meantime is simply absent, as in etcd.</summary>
    public void LoadPrevious(MvccStore store)
    {
        if (_previousLoaded)
        {
            return;
        }
        lock (_prevLock)
        {
            if (_previousLoaded)
            {
                return;
            }
            ReadTxn? txn = null;
            try
            {
                foreach (WatchEvent e in Events)
                {
                    if (e.IsCreate || e.Previous == default)
                    {
                        e.SetPrevious(null);
                        continue;
                    }
                    txn ??= store.BeginRead();
                    e.SetPrevious(txn.ReadRevision(e.Previous));
                }
            }
            finally
            {
                txn?.Dispose();
            }
            _previousLoaded = true;
        }
    }

    // Groups a run of changes (in revision order) by main revision.
    internal static void Split(IReadOnlyList<MvccChange> changes, int start, out int end)
    {
        long rev = changes[start].Kv.ModRevision;
        end = start + 1;
        while (end < changes.Count && changes[end].Kv.ModRevision == rev)
        {
            end++;
        }
    }

    internal static RevisionEvents From(IReadOnlyList<MvccChange> changes, int start, int end)
    {
        var events = new WatchEvent[end - start];
        for (int i = start; i < end; i++)
        {
            events[i - start] = new WatchEvent(changes[i]);
        }
        return new RevisionEvents(changes[start].Kv.ModRevision, events);
    }
}
