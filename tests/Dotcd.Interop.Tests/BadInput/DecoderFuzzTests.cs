using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Interop.Tests.Harness;
using Google.Protobuf;
using Xunit.Abstractions;

namespace Dotcd.Interop.Tests.BadInput;

/// <summary>A real etcd 3.4 and a dotcd of their own for the decoder fuzz (it writes random keys).</summary>
public sealed class DecoderFuzzMembers : IAsyncLifetime
{
    public MemberProcess Etcd { get; private set; } = null!;

    public MemberProcess Dotcd { get; private set; } = null!;

    public RawGrpc EtcdGrpc { get; private set; } = null!;

    public RawGrpc DotcdGrpc { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Task<MemberProcess> etcd = MemberProcess.StartAsync(MemberKind.Etcd, new MemberOptions { Name = "fuzz" });
        Task<MemberProcess> dotcd = MemberProcess.StartAsync(MemberKind.Dotcd, new MemberOptions { Name = "fuzz" });
        await Task.WhenAll(etcd.ContinueWith(_ => { }), dotcd.ContinueWith(_ => { }));
        if (!etcd.IsCompletedSuccessfully || !dotcd.IsCompletedSuccessfully)
        {
            (etcd.IsCompletedSuccessfully ? etcd.Result : null)?.Dispose();
            (dotcd.IsCompletedSuccessfully ? dotcd.Result : null)?.Dispose();
            await Task.WhenAll(etcd, dotcd); // Rethrows the failure.
        }

        Etcd = etcd.Result;
        Dotcd = dotcd.Result;
        EtcdGrpc = new RawGrpc(Etcd.ClientUrl);
        DotcdGrpc = new RawGrpc(Dotcd.ClientUrl);
    }

    public Task DisposeAsync()
    {
        EtcdGrpc?.Dispose();
        DotcdGrpc?.Dispose();
        Etcd?.Dispose();
        Dotcd?.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>
/// Random and mutated bytes for the request of every etcdserverpb method dotcd decodes, sent to
/// dotcd and (where the bytes cannot crash etcd 3.4) to etcd. dotcd always answers with a gRPC
/// status that is not Unknown (an unexpected exception), never hangs, and keeps serving; when
/// either server calls the bytes undecodable, both give the same code and message.
/// Seeded: DOTCD_FUZZ_SEED=&lt;n&gt; replays one seed; DOTCD_SLOW_TESTS=1 runs a hundred times more.
/// </summary>
public sealed class DecoderFuzzTests(DecoderFuzzMembers members, ITestOutputHelper output) : IClassFixture<DecoderFuzzMembers>
{
    private const string UnaryDecodeError = "grpc: error unmarshalling request";
    private const string StreamDecodeError = "grpc: failed to unmarshal the received message";

    /// <summary>A method, valid requests to mutate, and whether decodable bytes are safe to send to etcd 3.4.</summary>
    private sealed record Target(string Path, MessageParser Parser, IMessage[] Corpus, Func<IMessage, bool> SafeForEtcd)
    {
        /// <summary>False when etcd 3.4's message has fewer fields than dotcd's (3.6 API): its decode errors differ.</summary>
        public bool SameFieldsInEtcd34 { get; init; } = true;
    }

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static readonly Target[] s_targets =
    [
        new(Methods.Range, RangeRequest.Parser,
        [
            new RangeRequest { Key = B("/fuzz/a"), RangeEnd = B("/fuzz/z"), Limit = 3, Revision = 0, SortOrder = RangeRequest.Types.SortOrder.Descend, SortTarget = RangeRequest.Types.SortTarget.Mod, Serializable = true, KeysOnly = true, MinModRevision = 1, MaxCreateRevision = 99 },
            new RangeRequest { Key = B("/fuzz/"), RangeEnd = B("\0"), CountOnly = true },
        ],
        // etcd 3.4 panics on an unknown sort target (a nil sorter).
        m => Enum.IsDefined(((RangeRequest)m).SortTarget) && Enum.IsDefined(((RangeRequest)m).SortOrder)),
        new(Methods.Put, PutRequest.Parser,
        [
            new PutRequest { Key = B("/fuzz/p"), Value = B("value"), PrevKv = true },
            new PutRequest { Key = B("/fuzz/q"), IgnoreValue = true, IgnoreLease = true, Lease = 5 },
        ], _ => true),
        new(Methods.DeleteRange, DeleteRangeRequest.Parser, [new DeleteRangeRequest { Key = B("/fuzz/d"), RangeEnd = B("/fuzz/e"), PrevKv = true }], _ => true),
        new(Methods.Txn, TxnRequest.Parser,
        [
            new TxnRequest
            {
                Compare = { new Compare { Key = B("/fuzz/c"), Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Greater, Value = B("x"), RangeEnd = B("/fuzz/d") } },
                Success =
                {
                    new RequestOp { RequestPut = new PutRequest { Key = B("/fuzz/t"), Value = B("1") } },
                    new RequestOp { RequestTxn = new TxnRequest { Failure = { new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("/fuzz/u") } } } } },
                },
                Failure = { new RequestOp { RequestRange = new RangeRequest { Key = B("/fuzz/t"), Limit = 1 } } },
            },
        ],
        // Decodable txns may hold ranges with unknown sort options, which etcd applies (and panics on).
        _ => false),
        new(Methods.Compact, CompactionRequest.Parser, [new CompactionRequest { Revision = 1 << 40, Physical = true }], _ => true),
        new(Methods.HashKV, HashKVRequest.Parser, [new HashKVRequest { Revision = 2 }], _ => true),
        new(Methods.Hash, HashRequest.Parser, [new HashRequest()], _ => true),
        new(Methods.Status, StatusRequest.Parser, [new StatusRequest()], _ => true),
        new(Methods.Alarm, AlarmRequest.Parser, [new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Get, MemberID = 7, Alarm = AlarmType.Nospace }],
            // etcd 3.4 answers an unknown action with a nil response and panics; activating an alarm would stop later puts.
            m => ((AlarmRequest)m).Action == AlarmRequest.Types.AlarmAction.Get),
        new(Methods.MoveLeader, MoveLeaderRequest.Parser, [new MoveLeaderRequest { TargetID = 12345 }], _ => true),
        new(Methods.Snapshot, SnapshotRequest.Parser, [new SnapshotRequest()], _ => false), // A decodable one streams the whole backend.
        // linearizable (field 1) is etcd 3.5+: etcd 3.4 skips it as unknown, dotcd (3.6's API) decodes it.
        new(Methods.MemberList, MemberListRequest.Parser, [new MemberListRequest { Linearizable = true }], _ => true) { SameFieldsInEtcd34 = false },
        new(Methods.LeaseGrant, LeaseGrantRequest.Parser, [new LeaseGrantRequest { TTL = 60, ID = 99 }], _ => false), // Leases would pile up.
        new(Methods.LeaseRevoke, LeaseRevokeRequest.Parser, [new LeaseRevokeRequest { ID = 99 }], _ => true),
        new(Methods.LeaseTimeToLive, LeaseTimeToLiveRequest.Parser, [new LeaseTimeToLiveRequest { ID = 99, Keys = true }], _ => true),
        new(Methods.LeaseLeases, LeaseLeasesRequest.Parser, [new LeaseLeasesRequest()], _ => true),
    ];

    public static TheoryData<int> Seeds()
    {
        string? replay = Environment.GetEnvironmentVariable("DOTCD_FUZZ_SEED");
        return replay is not null ? new TheoryData<int>(int.Parse(replay, System.Globalization.CultureInfo.InvariantCulture)) : new TheoryData<int>(1, 2);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task EveryDecoderAnswersMalformedBytesAsEtcdAndTheMemberKeepsServing(int seed)
    {
        var random = new Random(seed);
        int cases = TestSwitches.SlowTestsEnabled ? 20_000 : 250;
        int compared = 0;
        for (int n = 0; n < cases; n++)
        {
            Target target = s_targets[random.Next(s_targets.Length)];
            byte[] bytes = Mutate(target.Corpus[random.Next(target.Corpus.Length)].ToByteArray(), random);
            string what = $"seed {seed}, case {n}: {target.Path} with {Convert.ToHexString(bytes)}";

            RawAnswer dotcd = await members.DotcdGrpc.CallAsync(target.Path, RawGrpc.Frame(bytes), timeout: TimeSpan.FromSeconds(10));
            Assert.True(dotcd.Failure is null, $"{what}: dotcd gave no status: {dotcd}");
            Assert.True(dotcd.GrpcStatus != (int)Grpc.StatusCode.Unknown, $"{what}: dotcd failed unexpectedly: {dotcd.Status}");

            if (!target.SameFieldsInEtcd34 || !SafeForEtcd(target, bytes))
            {
                continue;
            }

            RawAnswer etcd = await members.EtcdGrpc.CallAsync(target.Path, RawGrpc.Frame(bytes), timeout: TimeSpan.FromSeconds(10));
            Assert.True(members.Etcd.IsRunning, $"{what}: etcd exited (the fuzz must not send what crashes it)");
            if (IsDecodeError(etcd) || IsDecodeError(dotcd))
            {
                compared++;
                Assert.True(etcd.Status == dotcd.Status, $"{what}:\n etcd:  {etcd.Status}\n dotcd: {dotcd.Status}");
            }
        }

        output.WriteLine($"{cases} inputs, {compared} decode errors compared with etcd");
        RawAnswer put = await members.DotcdGrpc.CallAsync(Methods.Put, RawGrpc.Frame(new PutRequest { Key = B("/fuzz/alive"), Value = B("yes") }.ToByteArray()));
        Assert.True(put.IsOk, $"dotcd after the fuzz: {put}");
        RawAnswer get = await members.DotcdGrpc.CallAsync(Methods.Range, RawGrpc.Frame(new RangeRequest { Key = B("/fuzz/alive") }.ToByteArray()));
        Assert.Equal("yes", RangeResponse.Parser.ParseFrom(get.Messages().Single()).Kvs.Single().Value.ToStringUtf8());
    }

    private static bool IsDecodeError(RawAnswer answer) =>
        answer.GrpcMessage.StartsWith(UnaryDecodeError, StringComparison.Ordinal) || answer.GrpcMessage.StartsWith(StreamDecodeError, StringComparison.Ordinal);

    private static bool SafeForEtcd(Target target, byte[] bytes)
    {
        IMessage message;
        try
        {
            using var input = CodedInputStream.CreateWithLimits(new MemoryStream(bytes), int.MaxValue, 1000);
            message = target.Parser.ParseFrom(input);
        }
        catch (InvalidProtocolBufferException)
        {
            return true; // Undecodable bytes never reach etcd's handlers.
        }

        return target.SafeForEtcd(message);
    }

    /// <summary>One to four mutations of a valid request, or pure noise.</summary>
    private static byte[] Mutate(byte[] valid, Random random)
    {
        if (random.Next(8) == 0)
        {
            var noise = new byte[random.Next(0, 24)];
            random.NextBytes(noise);
            return noise;
        }

        var bytes = new List<byte>(valid);
        int mutations = random.Next(1, 5);
        for (int i = 0; i < mutations; i++)
        {
            int at = random.Next(bytes.Count + 1);
            switch (random.Next(7))
            {
                case 0 when bytes.Count > 0: // Flip a bit.
                    at = Math.Min(at, bytes.Count - 1);
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // Truncate.
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 2: // Insert random bytes.
                    var insert = new byte[random.Next(1, 6)];
                    random.NextBytes(insert);
                    bytes.InsertRange(at, insert);
                    break;
                case 3 when bytes.Count > 0: // Delete a few bytes.
                    at = Math.Min(at, bytes.Count - 1);
                    bytes.RemoveRange(at, Math.Min(random.Next(1, 4), bytes.Count - at));
                    break;
                case 4: // A field with a random number and wire type.
                    bytes.InsertRange(at, [.. Wire.Tag(random.Next(0, 20), random.Next(8)), .. Wire.VarintBytes((ulong)random.Next(0, 300))]);
                    break;
                case 5 when bytes.Count > 0: // Set a byte to a boundary value.
                    at = Math.Min(at, bytes.Count - 1);
                    bytes[at] = new byte[] { 0x00, 0x7F, 0x80, 0xFF }[random.Next(4)];
                    break;
                default: // Duplicate a slice (repeated and merged fields).
                    int start = random.Next(bytes.Count + 1);
                    int length = random.Next(0, bytes.Count - start + 1);
                    bytes.InsertRange(at, bytes.GetRange(start, length));
                    break;
            }
        }

        return [.. bytes];
    }
}
