using System.Runtime.CompilerServices;
using System.Text;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using Dotcd.Mvcc;
using Dotcd.Server.Apply;
using Google.Protobuf;

namespace Dotcd.Server.Tests.Apply;

/// <summary>Leases granted so far; stands in for the lessor until it exists.</summary>
internal sealed class GrantedLeases : ILeaseLookup
{
    public readonly HashSet<long> Ids = [];

    public bool Exists(long leaseId) => Ids.Contains(leaseId);
}

/// <summary>A store and an applier driven the way a member drives them: validate as the KV
/// service does, serve reads locally, apply writes in a batch.</summary>
internal sealed class ApplyHarness : IDisposable
{
    private readonly string _directory;
    public readonly MvccStore Store;
    public readonly GrantedLeases Leases = new();
    public readonly KvApplier Applier;

    public ApplyHarness()
    {
        _directory = Path.Combine(Path.GetTempPath(), "dotcd-apply-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        Store = MvccStore.Open(Path.Combine(_directory, "db"), new MvccOptions { BackgroundCompaction = false });
        Applier = new KvApplier(Leases);
    }

    public (RangeResponse? Response, EtcdError? Error) Range(RangeRequest r)
    {
        if (KvRequestValidator.CheckRange(r) is EtcdError e)
        {
            return (null, e);
        }
        ApplyResult<RangeResponse> result = Applier.Range(Store, r);
        return (result.Response, result.Error);
    }

    public (PutResponse? Response, EtcdError? Error) Put(PutRequest r)
    {
        if (KvRequestValidator.CheckPut(r) is EtcdError e)
        {
            return (null, e);
        }
        ApplyResult<PutResponse> result = InBatch(b => Applier.Put(b, r));
        return (result.Response, result.Error);
    }

    public (DeleteRangeResponse? Response, EtcdError? Error) DeleteRange(DeleteRangeRequest r)
    {
        if (KvRequestValidator.CheckDeleteRange(r) is EtcdError e)
        {
            return (null, e);
        }
        ApplyResult<DeleteRangeResponse> result = InBatch(b => Applier.DeleteRange(b, r));
        return (result.Response, result.Error);
    }

    public (TxnResponse? Response, EtcdError? Error) Txn(TxnRequest r)
    {
        if (KvRequestValidator.CheckTxn(r) is EtcdError e)
        {
            return (null, e);
        }
        ApplyResult<TxnResponse> result = KvApplier.IsReadOnly(r) ? Applier.ReadOnlyTxn(Store, r) : InBatch(b => Applier.Txn(b, r));
        return (result.Response, result.Error);
    }

    public (CompactionResponse? Response, EtcdError? Error) Compact(CompactionRequest r)
    {
        CompactApplyResult result = InBatch(b => Applier.Compact(b, r));
        if (r.Physical)
        {
            Store.FinishCompaction();
            Assert.True(result.Physical.IsCompleted);
        }
        return (result.Response, result.Error);
    }

    private T InBatch<T>(Func<MvccStore.WriteBatch, T> apply)
    {
        using MvccStore.WriteBatch batch = Store.BeginBatch();
        T result = apply(batch);
        batch.Commit();
        return result;
    }

    public void Dispose()
    {
        Store.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static ByteString B(string s) => ByteString.CopyFromUtf8(s);

    public static string GoldenDirectory([CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Golden");
}

/// <summary>The text form the Go probe (Golden/probe/main.go) prints for etcd's answers.</summary>
internal static class AnswerFormat
{
    public static string Quote(ByteString b)
    {
        var s = new StringBuilder("\"");
        foreach (byte c in b.Span)
        {
            if (c == '"' || c == '\\')
            {
                s.Append('\\').Append((char)c);
            }
            else if (c >= 0x20 && c < 0x7F)
            {
                s.Append((char)c);
            }
            else
            {
                s.Append($"\\x{c:x2}");
            }
        }
        return s.Append('"').ToString();
    }

    public static string Kv(KeyValue kv) =>
        $"{Quote(kv.Key)}={Quote(kv.Value)}@{kv.CreateRevision}/{kv.ModRevision}/{kv.Version}/{kv.Lease}";

    public static string Kvs(IEnumerable<KeyValue> kvs) => "[" + string.Join(" ", kvs.Select(Kv)) + "]";

    private static long Rev(ResponseHeader? h) => h?.Revision ?? -1;

    public static string Range(RangeResponse r) =>
        $"range rev={Rev(r.Header)} count={r.Count} more={(r.More ? "true" : "false")} kvs={Kvs(r.Kvs)}";

    public static string Put(PutResponse r) => $"put rev={Rev(r.Header)} prev={(r.PrevKv is null ? "none" : Kv(r.PrevKv))}";

    public static string Delete(DeleteRangeResponse r) => $"del rev={Rev(r.Header)} deleted={r.Deleted} prev={Kvs(r.PrevKvs)}";

    public static string Txn(TxnResponse r) =>
        $"txn rev={Rev(r.Header)} succeeded={(r.Succeeded ? "true" : "false")} {{" + string.Join("; ", r.Responses.Select(op => op.ResponseCase switch
        {
            ResponseOp.ResponseOneofCase.ResponseRange => Range(op.ResponseRange),
            ResponseOp.ResponseOneofCase.ResponsePut => Put(op.ResponsePut),
            ResponseOp.ResponseOneofCase.ResponseDeleteRange => Delete(op.ResponseDeleteRange),
            ResponseOp.ResponseOneofCase.ResponseTxn => Txn(op.ResponseTxn),
            _ => "nil",
        })) + "}";

    public static string Error(EtcdError e) => $"error {(int)e.Code} {e.Message}";
}
