using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>
/// etcd's Watch service. Each call returns a <see cref="Watcher"/>, registered at once and read with
/// <c>await foreach</c>. A watch from revision 0 sees the changes after the server created it:
/// await <see cref="Watcher.Created"/> before relying on that.
/// Watches with the same stream metadata share one gRPC stream; see <see cref="WatchStream"/>.
/// </summary>
public sealed class WatchClient : IDisposable
{
    private readonly EtcdTransport _transport;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, WatchStream> _streams = new(StringComparer.Ordinal); // By WatchOptions.StreamKey.
    private bool _disposed;

    internal WatchClient(EtcdTransport transport) => _transport = transport;

    /// <summary>Watches one key.</summary>
    public Watcher Key(string key, WatchOptions? options = null) => Key(KeyRange.Utf8(key), options);

    public Watcher Key(ReadOnlySpan<byte> key, WatchOptions? options = null) =>
        Start(new WatchCreateRequest { Key = KeyRange.Bytes(key) }, options);

    /// <summary>Watches the keys in [key, rangeEnd).</summary>
    public Watcher Range(string key, string rangeEnd, WatchOptions? options = null) =>
        Range(KeyRange.Utf8(key), KeyRange.Utf8(rangeEnd), options);

    public Watcher Range(ReadOnlySpan<byte> key, ReadOnlySpan<byte> rangeEnd, WatchOptions? options = null) =>
        Start(new WatchCreateRequest { Key = KeyRange.Bytes(key), RangeEnd = KeyRange.Bytes(rangeEnd) }, options);

    /// <summary>Watches the keys starting with prefix; an empty prefix watches every key.</summary>
    public Watcher Prefix(string prefix, WatchOptions? options = null) => Prefix(KeyRange.Utf8(prefix), options);

    public Watcher Prefix(ReadOnlySpan<byte> prefix, WatchOptions? options = null) =>
        Start(new WatchCreateRequest { Key = KeyRange.StartOf(prefix), RangeEnd = KeyRange.Bytes(KeyRange.PrefixEnd(prefix)) }, options);

    /// <summary>Watches every key at or after key (etcdctl watch --from-key).</summary>
    public Watcher FromKey(string key, WatchOptions? options = null) => FromKey(KeyRange.Utf8(key), options);

    public Watcher FromKey(ReadOnlySpan<byte> key, WatchOptions? options = null) =>
        Start(new WatchCreateRequest { Key = KeyRange.StartOf(key), RangeEnd = KeyRange.Bytes(KeyRange.NoEnd) }, options);

    private Watcher Start(WatchCreateRequest request, WatchOptions? options)
    {
        options ??= new WatchOptions();
        var watcher = new Watcher(options.ApplyTo(request), options.CreatedNotify);
        string key = options.StreamKey();
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_streams.TryGetValue(key, out WatchStream? stream) || !stream.TryAttach(watcher))
            {
                stream = new WatchStream(this, _transport, options.StreamMetadata());
                _streams[key] = stream;
                stream.TryAttach(watcher);
            }
        }

        return watcher;
    }

    /// <summary>Forgets a stream that closed (its last watch went, or it failed for good).</summary>
    internal void Remove(WatchStream stream)
    {
        lock (_gate)
        {
            foreach (KeyValuePair<string, WatchStream> entry in _streams)
            {
                if (entry.Value == stream)
                {
                    _streams.Remove(entry.Key);
                    break;
                }
            }
        }
    }

    /// <summary>Ends every watch (their loops throw <see cref="ObjectDisposedException"/>) and closes the streams.</summary>
    public void Dispose()
    {
        WatchStream[] streams;
        lock (_gate)
        {
            _disposed = true;
            streams = [.. _streams.Values];
            _streams.Clear();
        }

        foreach (WatchStream stream in streams)
        {
            stream.Close(new ObjectDisposedException(nameof(EtcdClient), "The etcd client was disposed."));
        }
    }
}
