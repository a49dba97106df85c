using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Interop.Tests.Harness;
using Google.Protobuf;
using Xunit.Abstractions;

namespace Dotcd.Interop.Tests.BadInput;

/// <summary>
/// A real etcd 3.4 and a dotcd, each with keys written before the sweep, that every bad request
/// of <see cref="BadInputCases"/> is sent to. Started once for the whole sweep.
/// </summary>
public sealed class BadInputMembers : IAsyncLifetime
{
    public const int SeedKeys = 20;

    public MemberProcess Etcd { get; private set; } = null!;

    public MemberProcess Dotcd { get; private set; } = null!;

    public RawGrpc EtcdGrpc { get; private set; } = null!;

    public RawGrpc DotcdGrpc { get; private set; } = null!;

    /// <summary>Set once the etcd process is found dead; later cases then fail with this instead of timing out.</summary>
    public string? EtcdDied { get; set; }

    public static string SeedKey(int i) => $"/badinput/seed/{i:D2}";

    public static string SeedValue(int i) => $"value {i}";

    public async Task InitializeAsync()
    {
        Task<MemberProcess> etcd = MemberProcess.StartAsync(MemberKind.Etcd, new MemberOptions { Name = "badinput" });
        Task<MemberProcess> dotcd = MemberProcess.StartAsync(MemberKind.Dotcd, new MemberOptions { Name = "badinput" });
        try
        {
            Etcd = await etcd;
            Dotcd = await dotcd;
        }
        catch
        {
            (await Task.WhenAll(etcd.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null), dotcd.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null)))
                .ToList().ForEach(m => m?.Dispose());
            throw;
        }

        EtcdGrpc = new RawGrpc(Etcd.ClientUrl);
        DotcdGrpc = new RawGrpc(Dotcd.ClientUrl);
        foreach (RawGrpc member in new[] { EtcdGrpc, DotcdGrpc })
        {
            for (int i = 0; i < SeedKeys; i++)
            {
                RawAnswer put = await member.CallAsync(Methods.Put, RawGrpc.Frame(
                    new PutRequest { Key = ByteString.CopyFromUtf8(SeedKey(i)), Value = ByteString.CopyFromUtf8(SeedValue(i)) }.ToByteArray()));
                Assert.True(put.IsOk, put.ToString());
            }
        }
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
/// Issue #2, requirement 12: each bad request gets etcd's gRPC code and message from dotcd, and
/// afterwards the member still serves a put and a get with every key written before it intact.
/// </summary>
public sealed class BadInputSweepTests(BadInputMembers members, ITestOutputHelper output) : IClassFixture<BadInputMembers>
{
    // etcd leaves some broken request streams unanswered; this long is "no answer".
    private static readonly TimeSpan s_answerTimeout = TimeSpan.FromSeconds(2);

    public static TheoryData<string> Cases() => new(BadInputCases.All.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task DotcdAnswersABadRequestAsEtcdAndKeepsServing(string name)
    {
        BadInputCase badInput = BadInputCases.Find(name);
        RawAnswer dotcd = await SendAsync(members.DotcdGrpc, badInput);
        output.WriteLine($"dotcd: {Describe(badInput, dotcd)}");
        if (dotcd.Failure is not null)
        {
            await Task.Delay(500); // A member that just crashed may not be reaped yet.
        }

        Assert.True(members.Dotcd.IsRunning, $"dotcd exited:\n{members.Dotcd.Output.Tail()}");
        if (badInput.EtcdCrashes is null)
        {
            Assert.Null(members.EtcdDied);
            RawAnswer etcd = await SendAsync(members.EtcdGrpc, badInput);
            output.WriteLine($"etcd:  {Describe(badInput, etcd)}");
            if (!members.Etcd.IsRunning)
            {
                members.EtcdDied = $"etcd exited after \"{name}\"";
            }

            Assert.True(members.Etcd.IsRunning, $"etcd exited:\n{members.Etcd.Output.Tail()}");
            await AssertStillServingAsync(members.EtcdGrpc, name);
            if (badInput.DotcdDiffers is null)
            {
                Assert.Equal(Describe(badInput, etcd), Describe(badInput, dotcd));
            }
            else
            {
                output.WriteLine($"deliberate difference: {badInput.DotcdDiffers}");
                Assert.NotEqual(Describe(badInput, etcd), Describe(badInput, dotcd));
            }
        }

        if (badInput.DotcdAnswer is { } expected)
        {
            Assert.Equal(expected, dotcd.Status);
        }

        Assert.True(members.Dotcd.IsRunning, $"dotcd exited:\n{members.Dotcd.Output.Tail()}");
        await AssertStillServingAsync(members.DotcdGrpc, name);
    }

    private static Task<RawAnswer> SendAsync(RawGrpc member, BadInputCase badInput) =>
        member.CallAsync(badInput.Path, badInput.Body, badInput.ContentType, s_answerTimeout, badInput.Headers);

    /// <summary>What a client can tell of an answer: HTTP status, gRPC status and message, and the summarized reply.</summary>
    private static string Describe(BadInputCase badInput, RawAnswer answer)
    {
        string text = $"http {answer.HttpStatus}, {answer.Status}";
        if (answer.IsOk && badInput.Summarize is { } summarize)
        {
            IReadOnlyList<byte[]> messages = answer.Messages();
            text += messages.Count == 1 ? $", {summarize(messages[0])}" : $", {messages.Count} messages";
        }

        return text;
    }

    /// <summary>A new key can be put and read back, and every seed key still holds its value.</summary>
    private static async Task AssertStillServingAsync(RawGrpc member, string caseName)
    {
        string key = $"/badinput/alive/{Guid.NewGuid():N}";
        RawAnswer put = await member.CallAsync(Methods.Put, RawGrpc.Frame(
            new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(caseName) }.ToByteArray()));
        Assert.True(put.IsOk, $"put after \"{caseName}\": {put}");

        RawAnswer get = await member.CallAsync(Methods.Range, RawGrpc.Frame(new RangeRequest { Key = ByteString.CopyFromUtf8(key) }.ToByteArray()));
        Assert.True(get.IsOk, $"get after \"{caseName}\": {get}");
        Assert.Equal(caseName, RangeResponse.Parser.ParseFrom(get.Messages().Single()).Kvs.Single().Value.ToStringUtf8());

        RawAnswer seeds = await member.CallAsync(Methods.Range, RawGrpc.Frame(new RangeRequest
        {
            Key = ByteString.CopyFromUtf8("/badinput/seed/"), RangeEnd = ByteString.CopyFromUtf8("/badinput/seed0"),
        }.ToByteArray()));
        Assert.True(seeds.IsOk, $"seed range after \"{caseName}\": {seeds}");
        RangeResponse range = RangeResponse.Parser.ParseFrom(seeds.Messages().Single());
        Assert.Equal(
            Enumerable.Range(0, BadInputMembers.SeedKeys).Select(i => $"{BadInputMembers.SeedKey(i)}={BadInputMembers.SeedValue(i)}"),
            range.Kvs.Select(kv => $"{kv.Key.ToStringUtf8()}={kv.Value.ToStringUtf8()}"));
    }
}
