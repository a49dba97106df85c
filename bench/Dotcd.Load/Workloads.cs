using System.Globalization;
using System.Text;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Grpc;
using Google.Protobuf;

namespace Dotcd.Load;

/// <summary>What one client of a run keeps: its random stream, samples and counters. Touched by that client only.</summary>
internal sealed class ClientState(int id)
{
    public Random Random { get; } = new(id * 7919 + 17); // Seeded: both servers see the same key sequence.
    public LatencySamples Samples { get; } = new();
    public long Errors;
    public long Rpcs;       // gRPC calls made; more than operations when txn-cas retries.
    public long Conflicts;  // txn-cas compares that failed and were retried.
    public string? FirstError;
}

/// <summary>One workload: optional setup (not measured), then one operation per call of <see cref="ExecuteAsync"/>.</summary>
internal abstract class Workload
{
    protected Workload(LoadOptions options) => Options = options;

    protected LoadOptions Options { get; }

    public virtual Task SetupAsync(IReadOnlyList<GrpcChannel> channels) => Task.CompletedTask;

    /// <summary>One operation; throws when it fails (counted as an error, not sampled).</summary>
    public abstract Task ExecuteAsync(GrpcChannel channel, ClientState client);

    public static Workload Create(LoadOptions options) => options.Workload switch
    {
        "put" => new PutWorkload(options),
        "range-linearizable" => new RangeWorkload(options, serializable: false),
        "range-serializable" => new RangeWorkload(options, serializable: true),
        "list" => new ListWorkload(options),
        "txn-cas" => new TxnCasWorkload(options),
        _ => throw new UsageException($"unknown workload \"{options.Workload}\""),
    };

    protected static ByteString Filler(int size, byte seed)
    {
        byte[] value = new byte[size];
        new Random(seed).NextBytes(value);
        return ByteString.CopyFrom(value);
    }

    /// <summary>Key <paramref name="index"/> as ASCII decimal, zero-padded to exactly <paramref name="size"/> bytes.</summary>
    protected static ByteString FixedSizeKey(int index, int size) =>
        ByteString.CopyFrom(index.ToString(CultureInfo.InvariantCulture).PadLeft(size, '0'), Encoding.ASCII);

    protected static void RequireKeySpaceFits(int keySpace, int keySize)
    {
        if ((keySpace - 1).ToString(CultureInfo.InvariantCulture).Length > keySize)
        {
            throw new UsageException($"--key-space {keySpace} does not fit in {keySize}-byte keys");
        }
    }
}

/// <summary>Put of a random key out of --key-space with a fixed --val-size value (etcd's `benchmark put`).</summary>
internal sealed class PutWorkload : Workload
{
    private readonly ByteString[] _keys;
    private readonly ByteString _value;

    public PutWorkload(LoadOptions options) : base(options)
    {
        int keySpace = options.KeySpace ?? 100_000;
        RequireKeySpaceFits(keySpace, options.KeySize);
        _keys = new ByteString[keySpace];
        for (int i = 0; i < keySpace; i++)
        {
            _keys[i] = FixedSizeKey(i, options.KeySize);
        }

        _value = Filler(options.ValueSize, 1);
    }

    public override async Task ExecuteAsync(GrpcChannel channel, ClientState client)
    {
        var request = new PutRequest { Key = _keys[client.Random.Next(_keys.Length)], Value = _value };
        client.Rpcs++;
        await KvCalls.PutAsync(channel, request, Options.Timeout).ConfigureAwait(false);
    }
}

/// <summary>Range of one existing key, linearizable or serializable (etcd's `benchmark range KEY --consistency`).</summary>
internal sealed class RangeWorkload(LoadOptions options, bool serializable) : Workload(options)
{
    private readonly ByteString _key = FixedSizeKey(0, options.KeySize);

    public override async Task SetupAsync(IReadOnlyList<GrpcChannel> channels) =>
        await KvCalls.PutAsync(channels[0], new PutRequest { Key = _key, Value = Filler(Options.ValueSize, 2) }, Options.Timeout).ConfigureAwait(false);

    public override async Task ExecuteAsync(GrpcChannel channel, ClientState client)
    {
        client.Rpcs++;
        RangeResponse response = await KvCalls.RangeAsync(channel, new RangeRequest { Key = _key, Serializable = serializable }, Options.Timeout).ConfigureAwait(false);
        if (response.Kvs.Count != 1)
        {
            throw new InvalidOperationException($"range returned {response.Kvs.Count} keys, expected 1");
        }
    }
}

/// <summary>
/// A Kubernetes LIST: a linearizable range over a prefix holding --list-keys keys of
/// --list-val-size bytes, shaped like /registry/pods/&lt;namespace&gt;/&lt;name&gt;.
/// </summary>
internal sealed class ListWorkload(LoadOptions options) : Workload(options)
{
    private static readonly byte[] s_prefix = "/registry/pods/bench/"u8.ToArray();

    private readonly RangeRequest _request = new() { Key = ByteString.CopyFrom(s_prefix), RangeEnd = KvCalls.PrefixEnd(s_prefix) };

    public override async Task SetupAsync(IReadOnlyList<GrpcChannel> channels)
    {
        ByteString value = Filler(Options.ListValueSize, 3);
        await KvCalls.PutManyAsync(channels, Options.ListKeys, parallel: 16,
            i => new PutRequest { Key = ByteString.CopyFromUtf8($"/registry/pods/bench/pod-{i:D6}"), Value = value },
            done: null, Options.Timeout).ConfigureAwait(false);
    }

    public override async Task ExecuteAsync(GrpcChannel channel, ClientState client)
    {
        client.Rpcs++;
        RangeResponse response = await KvCalls.RangeAsync(channel, _request, Options.Timeout).ConfigureAwait(false);
        if (response.Kvs.Count != Options.ListKeys)
        {
            throw new InvalidOperationException($"list returned {response.Kvs.Count} keys, expected {Options.ListKeys}");
        }
    }
}

/// <summary>
/// A Kubernetes update (the apiserver's GuaranteedUpdate): Txn{ If mod_revision(key) == rev
/// Then Put(key, value) Else Range(key) }. rev comes from a shared cache of every key's last
/// known mod_revision, as the apiserver's watch cache would give it; on a failed compare the
/// Else branch's key refreshes the cache and the update is retried. One operation is one
/// successful update, its latency includes the retries.
/// </summary>
internal sealed class TxnCasWorkload : Workload
{
    private const int MaxAttempts = 100;

    private readonly ByteString[] _keys;
    private readonly long[] _modRevisions; // Last known mod_revision per key; only ever raised (RaiseTo).
    private readonly ByteString _value;

    public TxnCasWorkload(LoadOptions options) : base(options)
    {
        int keySpace = options.KeySpace ?? 1000;
        _keys = new ByteString[keySpace];
        for (int i = 0; i < keySpace; i++)
        {
            _keys[i] = ByteString.CopyFromUtf8($"/registry/configmaps/bench/cm-{i:D6}");
        }

        _modRevisions = new long[keySpace];
        _value = Filler(options.ValueSize, 4);
    }

    public override Task SetupAsync(IReadOnlyList<GrpcChannel> channels) =>
        KvCalls.PutManyAsync(channels, _keys.Length, parallel: 16,
            i => new PutRequest { Key = _keys[i], Value = _value },
            (i, response) => RaiseTo(ref _modRevisions[i], response.Header.Revision), Options.Timeout);

    public override async Task ExecuteAsync(GrpcChannel channel, ClientState client)
    {
        int index = client.Random.Next(_keys.Length);
        ByteString key = _keys[index];
        for (int attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            long expected = Volatile.Read(ref _modRevisions[index]);
            var request = new TxnRequest
            {
                Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = expected } },
                Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = _value } } },
                Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key } } },
            };
            client.Rpcs++;
            TxnResponse response = await KvCalls.TxnAsync(channel, request, Options.Timeout).ConfigureAwait(false);
            if (response.Succeeded)
            {
                RaiseTo(ref _modRevisions[index], response.Header.Revision);
                return;
            }

            client.Conflicts++;
            var current = response.Responses[0].ResponseRange.Kvs;
            if (current.Count != 1)
            {
                throw new InvalidOperationException($"txn failure branch returned {current.Count} keys, expected 1");
            }

            RaiseTo(ref _modRevisions[index], current[0].ModRevision);
        }

        throw new InvalidOperationException($"txn-cas gave up after {MaxAttempts} conflicts");
    }

    private static void RaiseTo(ref long slot, long value)
    {
        long seen = Volatile.Read(ref slot);
        while (value > seen)
        {
            long previous = Interlocked.CompareExchange(ref slot, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
