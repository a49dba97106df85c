using Dotcd.Api.Etcdserverpb;
using Dotcd.Server.Apply;
using static Dotcd.Server.Tests.Apply.ApplyHarness;

namespace Dotcd.Server.Tests.Apply;

public sealed class KvRequestValidatorTests
{
    private static RequestOp Put(string key) => new() { RequestPut = new PutRequest { Key = B(key), Value = B("v") } };
    private static RequestOp Delete(string key, string end = "") => new() { RequestDeleteRange = new DeleteRangeRequest { Key = B(key), RangeEnd = B(end) } };
    private static RequestOp Nested(IEnumerable<RequestOp> then, IEnumerable<RequestOp>? otherwise = null)
    {
        var t = new TxnRequest();
        t.Success.AddRange(then);
        t.Failure.AddRange(otherwise ?? []);
        return new RequestOp { RequestTxn = t };
    }

    private static EtcdError? Check(params RequestOp[] success)
    {
        var t = new TxnRequest();
        t.Success.AddRange(success);
        return KvRequestValidator.CheckTxn(t);
    }

    [Fact]
    public void PutsOfOneKeyInOneListAreDuplicates()
    {
        Assert.Same(EtcdErrors.DuplicateKey, Check(Put("a"), Put("a")));
        Assert.Null(Check(Put("a"), Put("b")));
    }

    [Fact]
    public void APutInsideADeletedRangeIsADuplicateEitherWay()
    {
        Assert.Same(EtcdErrors.DuplicateKey, Check(Put("d/1"), Delete("d/", "d0")));
        Assert.Same(EtcdErrors.DuplicateKey, Check(Delete("d/", "d0"), Put("d/1")));
        Assert.Same(EtcdErrors.DuplicateKey, Check(Delete("d/1"), Put("d/1")));
        Assert.Null(Check(Delete("d/", "d0"), Put("d0")));      // The range end is exclusive.
        Assert.Null(Check(Delete("d/", "\0"), Put("d/1")));      // "\0" ends cover no key in etcd's check.
        Assert.Null(Check(Delete("d/5", "d/1"), Put("d/3")));   // An inverted range covers nothing.
        Assert.Null(Check(Delete("d"), Delete("d")));            // Deletes may overlap each other.
    }

    [Fact]
    public void NestedTxnBranchesMayPutTheSameKeyButNotTheOuterList()
    {
        Assert.Null(Check(Nested([Put("e")], [Put("e")])));
        Assert.Same(EtcdErrors.DuplicateKey, Check(Put("e"), Nested([Put("e")])));
        Assert.Same(EtcdErrors.DuplicateKey, Check(Nested([Put("e")]), Nested([], [Put("e")])));
        Assert.Same(EtcdErrors.DuplicateKey, Check(Nested([Delete("e", "f")]), Nested([Put("e")])));
        Assert.Same(EtcdErrors.DuplicateKey, Check(Delete("e", "f"), Nested([Put("e")])));
        Assert.Same(EtcdErrors.DuplicateKey, Check(Put("e"), Nested([Delete("e", "f")])));
        // A nested delete checked before a later sibling's delete was merged.
        Assert.Null(Check(Nested([Put("e")]), Nested([Delete("e", "f")])));
    }

    [Fact]
    public void OpsAreCountedPerListAndNestedTxnsGetWhatIsLeft()
    {
        RequestOp[] puts(int n) => Enumerable.Range(0, n).Select(i => Put($"k{i:D3}")).ToArray();
        Assert.Null(Check(puts(128)));
        Assert.Same(EtcdErrors.TooManyOps, Check(puts(129)));
        Assert.Same(EtcdErrors.TooManyOps, KvRequestValidator.CheckTxn(new TxnRequest { Success = { puts(3) } }, maxTxnOps: 2));

        var compares = Enumerable.Range(0, 100).Select(_ => new Compare { Key = B("k") }).ToArray();
        var withNested = (int inner) => new TxnRequest { Compare = { compares }, Success = { Nested(puts(inner)) } };
        Assert.Null(KvRequestValidator.CheckTxn(withNested(28)));
        Assert.Same(EtcdErrors.TooManyOps, KvRequestValidator.CheckTxn(withNested(29)));
    }

    [Fact]
    public void EmptyKeysAndMissingRequestsAreRejected()
    {
        Assert.Same(EtcdErrors.EmptyKey, KvRequestValidator.CheckRange(new RangeRequest()));
        Assert.Same(EtcdErrors.EmptyKey, KvRequestValidator.CheckDeleteRange(new DeleteRangeRequest()));
        Assert.Same(EtcdErrors.EmptyKey, KvRequestValidator.CheckPut(new PutRequest { Value = B("v") }));
        Assert.Same(EtcdErrors.ValueProvided, KvRequestValidator.CheckPut(new PutRequest { Key = B("k"), Value = B("v"), IgnoreValue = true }));
        Assert.Same(EtcdErrors.LeaseProvided, KvRequestValidator.CheckPut(new PutRequest { Key = B("k"), Lease = 1, IgnoreLease = true }));
        Assert.Same(EtcdErrors.EmptyKey, KvRequestValidator.CheckTxn(new TxnRequest { Compare = { new Compare() } }));
        Assert.Same(EtcdErrors.KeyNotFound, Check(new RequestOp()));
        Assert.Same(EtcdErrors.EmptyKey, Check(Nested([Put("")])));
    }

    [Fact]
    public void ErrorsCarryEtcdsCodesAndMessages()
    {
        Assert.Equal("code = OutOfRange desc = etcdserver: mvcc: required revision has been compacted", EtcdErrors.Compacted.ToStatus().ToString());
        Assert.Equal(Dotcd.Grpc.StatusCode.InvalidArgument, EtcdErrors.DuplicateKey.ToException().StatusCode);
        Assert.Equal("etcdserver: duplicate key given in txn request", EtcdErrors.DuplicateKey.ToException().Detail);
        Assert.Same(EtcdErrors.FutureRevision, EtcdErrors.FromMvcc(Dotcd.Mvcc.MvccStatus.FutureRevision));
        Assert.Null(EtcdErrors.FromMvcc(Dotcd.Mvcc.MvccStatus.Ok));
    }
}
