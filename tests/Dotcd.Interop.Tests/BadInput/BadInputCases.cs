using System.IO.Compression;
using Dotcd.Api;
using Dotcd.Api.Etcdserverpb;
using Google.Protobuf;
using static Dotcd.Interop.Tests.BadInput.Wire;

namespace Dotcd.Interop.Tests.BadInput;

/// <summary>
/// One bad request: the bytes of its whole request stream and how it is sent. By default etcd's
/// answer is the spec and dotcd must give the same one. <see cref="DotcdDiffers"/> names a
/// deliberate difference: dotcd must then give <see cref="DotcdAnswer"/>, and the reason says why.
/// </summary>
public sealed record BadInputCase(string Name, string Path, byte[] Body)
{
    public string? ContentType { get; init; } = "application/grpc";

    public (string Name, string Value)[] Headers { get; init; } = [];

    /// <summary>What of an OK answer both must agree on (ids, terms and sizes differ legitimately).</summary>
    public Func<byte[], string>? Summarize { get; init; }

    /// <summary>Why dotcd answers differently from etcd 3.4 on purpose; null when it must not.</summary>
    public string? DotcdDiffers { get; init; }

    /// <summary>dotcd's answer when it differs: "code: message" as <see cref="RawAnswer.Status"/> prints it.</summary>
    public string? DotcdAnswer { get; init; }

    /// <summary>Set when this request would take the etcd 3.4 process down: it is sent to dotcd only.</summary>
    public string? EtcdCrashes { get; init; }

    public override string ToString() => Name;
}

/// <summary>The sweep: every bad request of issue #2's requirement 12, and a few neighbours.</summary>
public static class BadInputCases
{
    // etcd's defaults: --max-request-bytes 1.5 MiB; grpc's receive limit adds 512 KiB of overhead.
    public const int MaxRequestBytes = 1536 * 1024;
    public const int GrpcMaxReceiveBytes = MaxRequestBytes + 512 * 1024;

    private static byte[] Msg(IMessage message) => message.ToByteArray();

    private static byte[] Framed(IMessage message) => RawGrpc.Frame(message.ToByteArray());

    private static ByteString B(string text) => ByteString.CopyFromUtf8(text);

    private static readonly byte[] s_rangeA = new RangeRequest { Key = B("/badinput/seed/00") }.ToByteArray();

    public static string RangeSummary(byte[] message)
    {
        RangeResponse r = RangeResponse.Parser.ParseFrom(message);
        return $"count {r.Count} more {r.More} keys [{string.Join(",", r.Kvs.Select(kv => kv.Key.ToStringUtf8()))}]";
    }

    private static string DeleteSummary(byte[] message)
    {
        DeleteRangeResponse r = DeleteRangeResponse.Parser.ParseFrom(message);
        return $"deleted {r.Deleted}";
    }

    private static string TxnSummary(byte[] message)
    {
        // Nested txns answer with nested responses: deeper than Google.Protobuf's default limit.
        using var input = CodedInputStream.CreateWithLimits(new MemoryStream(message), int.MaxValue, 1000);
        TxnResponse r = TxnResponse.Parser.ParseFrom(input);
        return $"succeeded {r.Succeeded} responses [{string.Join(",", r.Responses.Select(o => o.ResponseCase))}]";
    }

    private static string AlarmSummary(byte[] message)
    {
        AlarmResponse r = AlarmResponse.Parser.ParseFrom(message);
        return $"alarms [{string.Join(",", r.Alarms.Select(a => a.Alarm))}]";
    }

    private static string PutSummary(byte[] message) => $"put, revision {PutResponse.Parser.ParseFrom(message).Header.Revision > 0}";

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private static TxnRequest NestedTxn(int depth, bool write = false)
    {
        var txn = new TxnRequest
        {
            Success =
            {
                write
                    ? new RequestOp { RequestPut = new PutRequest { Key = B($"/badinput/nested/{depth}"), Value = B("v") } }
                    : new RequestOp { RequestRange = new RangeRequest { Key = B("/badinput/seed/00") } },
            },
        };
        for (int i = 1; i < depth; i++)
        {
            txn = new TxnRequest { Success = { new RequestOp { RequestTxn = txn } } };
        }

        return txn;
    }

    private static IEnumerable<BadInputCase> Framing()
    {
        // etcd's grpc-go reports a request stream that ends early with Go's io errors: "unexpected EOF"
        // (Unknown on unary calls, Internal on streams) and "EOF" (Unknown). dotcd's gRPC layer says
        // what happened instead; Dotcd.Grpc.Tests pin those texts. Switching to etcd's words is two
        // lines (ServerCallContext.ReadMessageAsync, GrpcRequestDispatcher.InvokeAsync): the lead's call.
        const string EarlyEnd = "dotcd's gRPC layer names the truncation instead of Go's io.ErrUnexpectedEOF/io.EOF texts";
        yield return new("frame length longer than the body", Methods.Range, [0, 0, 0, 0, 100, .. s_rangeA])
        {
            DotcdDiffers = EarlyEnd + " (etcd: Unknown: unexpected EOF)",
            DotcdAnswer = $"Internal: grpc: request stream ended inside a message ({5 + s_rangeA.Length} bytes of a frame)",
        };
        yield return new("truncated frame header then end of stream", Methods.Range, [0, 0, 0])
        {
            DotcdDiffers = EarlyEnd + " (etcd: Unknown: unexpected EOF)",
            DotcdAnswer = "Internal: grpc: request stream ended inside a message (3 bytes of a frame)",
        };
        yield return new("no message at all", Methods.Range, [])
        {
            DotcdDiffers = EarlyEnd + " (etcd: Unknown: EOF)",
            DotcdAnswer = "Internal: grpc: the request stream ended before a request message",
        };
        yield return new("truncated frame on a server-streaming call", Methods.Snapshot, [0, 0, 0, 0, 9, 1])
        {
            DotcdDiffers = EarlyEnd + " (etcd: Internal: unexpected EOF)",
            DotcdAnswer = "Internal: grpc: request stream ended inside a message (6 bytes of a frame)",
        };
        yield return new("no message on a server-streaming call", Methods.Snapshot, [])
        {
            DotcdDiffers = EarlyEnd + " (etcd: Unknown: EOF)",
            DotcdAnswer = "Internal: grpc: the request stream ended before a request message",
        };
        yield return new("compressed flag without grpc-encoding", Methods.Range, RawGrpc.Frame(s_rangeA, flags: 1));
        yield return new("compressed flag with grpc-encoding gzip", Methods.Range, RawGrpc.Frame(Gzip(s_rangeA), flags: 1))
        {
            Headers = [("grpc-encoding", "gzip")],
            Summarize = RangeSummary,
        };
        yield return new("grpc-encoding snappy on an uncompressed message", Methods.Range, RawGrpc.Frame(s_rangeA))
        {
            Headers = [("grpc-encoding", "snappy")],
            Summarize = RangeSummary,
        };
        yield return new("payload format flag 2", Methods.Range, RawGrpc.Frame(s_rangeA, flags: 2));
        yield return new("frame header announcing 4 GiB", Methods.Range, [0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]);
        yield return new("two messages in a unary call", Methods.Range, [.. RawGrpc.Frame(s_rangeA), .. RawGrpc.Frame(s_rangeA)])
        {
            Summarize = RangeSummary,
        };
        yield return new("a whole message and three stray bytes", Methods.Range, [.. RawGrpc.Frame(s_rangeA), 0, 0, 0])
        {
            Summarize = RangeSummary,
        };
    }

    private static IEnumerable<BadInputCase> Protobuf()
    {
        byte[] put = Msg(new PutRequest { Key = B("/badinput/truncated"), Value = B("some value") });
        yield return new("truncated Put", Methods.Put, RawGrpc.Frame(put.AsSpan(0, put.Length - 4)));
        yield return new("garbage bytes", Methods.Range, RawGrpc.Frame([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x13, 0x37]));
        yield return new("key as a varint (wrong wire type)", Methods.Range, RawGrpc.Frame(Int(1, 1)));
        yield return new("limit as bytes (wrong wire type)", Methods.Range, RawGrpc.Frame([.. s_rangeA, .. Bytes(3, [1])]));
        yield return new("end group without a group", Methods.Range, RawGrpc.Frame(Tag(1, EndGroup)));
        yield return new("field number zero", Methods.Range, RawGrpc.Frame([0x00, 0x01]));
        yield return new("varint longer than ten bytes", Methods.Range,
            RawGrpc.Frame([.. s_rangeA, .. Tag(3, Varint), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]));
        yield return new("negative length", Methods.Range,
            RawGrpc.Frame([.. Tag(1, Delimited), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]));
        yield return new("length past the end", Methods.Range, RawGrpc.Frame([.. Tag(1, Delimited), 50, 1, 2, 3]));
        yield return new("unknown field with wire type 7", Methods.Range, RawGrpc.Frame([.. s_rangeA, .. Tag(99, 7), 1]));
        yield return new("unknown varint field is ignored", Methods.Range, RawGrpc.Frame([.. s_rangeA, .. Int(99, 5)]))
        {
            Summarize = RangeSummary,
        };
        yield return new("unknown group field is skipped", Methods.Range,
            RawGrpc.Frame([.. s_rangeA, .. Tag(99, StartGroup), .. Int(1, 1), .. Tag(99, EndGroup)]))
        {
            Summarize = RangeSummary,
        };
        yield return new("unknown fixed64 field cut short", Methods.Range, RawGrpc.Frame([.. s_rangeA, .. Tag(99, Fixed64), 1, 2]));
        yield return new("wrong wire type inside a nested Compare", Methods.Txn,
            RawGrpc.Frame(Bytes(1, [.. Bytes(3, "/badinput/seed/00"u8), .. Bytes(4, [1])])));
        yield return new("garbage inside a nested RequestOp", Methods.Txn, RawGrpc.Frame(Bytes(2, Bytes(1, [0x00, 0x07]))));
        yield return new("garbage StatusRequest", Methods.Status, RawGrpc.Frame([0x0A, 0x05, 1]));
        yield return new("garbage SnapshotRequest (server streaming)", Methods.Snapshot, RawGrpc.Frame([0x0A, 0x05, 1]));
        yield return new("garbage HashKVRequest", Methods.HashKV, RawGrpc.Frame([0x08]));
        yield return new("garbage AlarmRequest", Methods.Alarm, RawGrpc.Frame([0x08, 0x80]));
        // etcd proposes any txn holding a txn (isTxnReadonly looks at one level), so these go through raft too.
        // The apply loop decodes them too (InternalRequestCodec): the member goes on after each.
        yield return new("txn nested 48 deep", Methods.Txn, Framed(NestedTxn(48))) { Summarize = TxnSummary };
        yield return new("txn nested 120 deep", Methods.Txn, Framed(NestedTxn(120))) { Summarize = TxnSummary };
        yield return new("txn nested 128 deep", Methods.Txn, Framed(NestedTxn(128))) { Summarize = TxnSummary };
        yield return new("txn nested 129 deep", Methods.Txn, Framed(NestedTxn(129)));
        yield return new("txn nested 5000 deep", Methods.Txn, Framed(NestedTxn(5000)));
        yield return new("write txn nested 48 deep", Methods.Txn, Framed(NestedTxn(48, write: true))) { Summarize = TxnSummary };
        yield return new("write txn nested 49 deep", Methods.Txn, Framed(NestedTxn(49, write: true))) { Summarize = TxnSummary };
        yield return new("write txn nested 128 deep", Methods.Txn, Framed(NestedTxn(128, write: true))) { Summarize = TxnSummary };
    }

    private static IEnumerable<BadInputCase> Sizes()
    {
        // etcd measures the InternalRaftRequest (the Put plus a small header) against --max-request-bytes.
        byte[] fits = Framed(new PutRequest { Key = B("/badinput/big"), Value = ByteString.CopyFrom(new byte[MaxRequestBytes - 100]) });
        yield return new("put just below --max-request-bytes", Methods.Put, fits) { Summarize = PutSummary };
        byte[] tooLarge = Framed(new PutRequest { Key = B("/badinput/big"), Value = ByteString.CopyFrom(new byte[MaxRequestBytes]) });
        yield return new("put of --max-request-bytes", Methods.Put, tooLarge);
        byte[] aboveGrpc = Framed(new PutRequest { Key = B("/badinput/big"), Value = ByteString.CopyFrom(new byte[GrpcMaxReceiveBytes]) });
        yield return new("put above the gRPC receive limit", Methods.Put, aboveGrpc);
        yield return new("txn of puts above --max-request-bytes", Methods.Txn, Framed(new TxnRequest
        {
            Success =
            {
                Enumerable.Range(0, 4).Select(i => new RequestOp
                {
                    RequestPut = new PutRequest { Key = B($"/badinput/big/{i}"), Value = ByteString.CopyFrom(new byte[MaxRequestBytes / 4 + 10]) },
                }),
            },
        }));
    }

    private static IEnumerable<BadInputCase> Semantics()
    {
        yield return new("range_end below key on Range", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/10"), RangeEnd = B("/badinput/seed/05") })) { Summarize = RangeSummary };
        yield return new("range_end below key on DeleteRange", Methods.DeleteRange,
            Framed(new DeleteRangeRequest { Key = B("/badinput/seed/10"), RangeEnd = B("/badinput/seed/05") })) { Summarize = DeleteSummary };
        yield return new("range_end equal to key on Range", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/10"), RangeEnd = B("/badinput/seed/10") })) { Summarize = RangeSummary };
        yield return new("empty key on Put", Methods.Put, Framed(new PutRequest { Value = B("v") }));
        yield return new("empty key on Range", Methods.Range, Framed(new RangeRequest()));
        yield return new("empty key with a range_end on Range", Methods.Range, Framed(new RangeRequest { RangeEnd = B("\0") }));
        yield return new("empty key on DeleteRange", Methods.DeleteRange, Framed(new DeleteRangeRequest()));
        yield return new("empty key with a range_end on DeleteRange", Methods.DeleteRange,
            Framed(new DeleteRangeRequest { RangeEnd = B("/badinput/seed/05") }));
        yield return new("empty key in a txn compare", Methods.Txn, Framed(new TxnRequest { Compare = { new Compare() } }));
        yield return new("empty key in a txn put", Methods.Txn,
            Framed(new TxnRequest { Success = { new RequestOp { RequestPut = new PutRequest { Value = B("v") } } } }));
        yield return new("txn op without a request", Methods.Txn, Framed(new TxnRequest { Success = { new RequestOp() } }));
        yield return new("ignore_value with a value", Methods.Put,
            Framed(new PutRequest { Key = B("/badinput/x"), Value = B("v"), IgnoreValue = true }));
        yield return new("ignore_lease with a lease", Methods.Put,
            Framed(new PutRequest { Key = B("/badinput/x"), Value = B("v"), IgnoreLease = true, Lease = 7 }));
        yield return new("ignore_value on a missing key", Methods.Put,
            Framed(new PutRequest { Key = B("/badinput/missing"), IgnoreValue = true }));

        // Unknown enum values.
        string seedPrefixEnd = "/badinput/seed0"; // '/' + 1
        yield return new("sort order 7 with target KEY", Methods.Range, RawGrpc.Frame([
            .. Bytes(1, "/badinput/seed/"u8), .. Text(2, seedPrefixEnd), .. Int(3, 2), .. Int(5, 7)]))
        {
            Summarize = RangeSummary,
            DotcdDiffers = "etcd 3.5+ refuses unknown sort options (checkRangeRequest); 3.4 ignores the order. dotcd speaks 3.6",
            DotcdAnswer = "InvalidArgument: etcdserver: invalid sort option",
        };
        yield return new("sort target 9", Methods.Range, RawGrpc.Frame([.. Bytes(1, "/badinput/seed/"u8), .. Text(2, seedPrefixEnd), .. Int(6, 9)]))
        {
            EtcdCrashes = "etcd 3.4 sorts with a nil sorter and panics (applierV3backend.Range): the process exits",
            DotcdAnswer = "InvalidArgument: etcdserver: invalid sort option",
        };
        yield return new("negative sort order", Methods.Range, RawGrpc.Frame([.. s_rangeA, .. Int(5, -1)]))
        {
            Summarize = RangeSummary,
            DotcdDiffers = "as sort order 7: an etcd 3.5+ error",
            DotcdAnswer = "InvalidArgument: etcdserver: invalid sort option",
        };
        yield return new("compare result 9", Methods.Txn, Framed(new TxnRequest
        {
            Compare = { new Compare { Key = B("/badinput/seed/00"), Result = (Compare.Types.CompareResult)9, Version = 1 } },
            Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("/badinput/seed/00") } } },
        })) { Summarize = TxnSummary };
        yield return new("compare target 9", Methods.Txn, Framed(new TxnRequest
        {
            Compare = { new Compare { Key = B("/badinput/seed/00"), Target = (Compare.Types.CompareTarget)9, Result = Compare.Types.CompareResult.Equal } },
            Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("/badinput/seed/00") } } },
        })) { Summarize = TxnSummary };
        yield return new("compare target 9 greater", Methods.Txn, Framed(new TxnRequest
        {
            Compare = { new Compare { Key = B("/badinput/seed/00"), Target = (Compare.Types.CompareTarget)9, Result = Compare.Types.CompareResult.Greater } },
        })) { Summarize = TxnSummary };
        yield return new("compare on a missing key with target 9", Methods.Txn, Framed(new TxnRequest
        {
            Compare = { new Compare { Key = B("/badinput/none"), Target = (Compare.Types.CompareTarget)9, Result = Compare.Types.CompareResult.Equal } },
        })) { Summarize = TxnSummary };
        yield return new("alarm action 9", Methods.Alarm, Framed(new AlarmRequest { Action = (AlarmRequest.Types.AlarmAction)9 }))
        {
            EtcdCrashes = "etcd 3.4's applier returns no AlarmResponse for an unknown action and grpc-go panics marshalling nil",
            DotcdAnswer = "OK: ",
        };
        yield return new("alarm get of alarm type 99", Methods.Alarm, Framed(new AlarmRequest { Alarm = (AlarmType)99 }))
        {
            Summarize = AlarmSummary,
        };
        yield return new("alarm deactivate of alarm type 99", Methods.Alarm,
            Framed(new AlarmRequest { Action = AlarmRequest.Types.AlarmAction.Deactivate, Alarm = (AlarmType)99 })) { Summarize = AlarmSummary };

        // Huge and negative numbers.
        yield return new("limit long.MaxValue", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Limit = long.MaxValue })) { Summarize = RangeSummary };
        yield return new("limit long.MaxValue sorted", Methods.Range, Framed(new RangeRequest
        {
            Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Limit = long.MaxValue, SortOrder = RangeRequest.Types.SortOrder.Descend,
        })) { Summarize = RangeSummary };
        yield return new("negative limit in a write txn", Methods.Txn, Framed(new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("/badinput/limit"), Value = B("v") } },
                new RequestOp { RequestRange = new RangeRequest { Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Limit = -1 } },
            },
        })) { Summarize = TxnSummary };
        yield return new("limit long.MaxValue in a read txn", Methods.Txn, Framed(new TxnRequest
        {
            Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Limit = long.MaxValue } } },
        })) { Summarize = TxnSummary };
        yield return new("negative limit", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Limit = -5 })) { Summarize = RangeSummary };
        yield return new("limit long.MinValue", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Limit = long.MinValue })) { Summarize = RangeSummary };
        yield return new("negative revision on Range", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Revision = -3 })) { Summarize = RangeSummary };
        yield return new("revision long.MinValue on Range", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), Revision = long.MinValue })) { Summarize = RangeSummary };
        yield return new("future revision on Range", Methods.Range,
            Framed(new RangeRequest { Key = B("/badinput/seed/00"), Revision = long.MaxValue }));
        yield return new("negative min and max revisions", Methods.Range, Framed(new RangeRequest
        {
            Key = B("/badinput/seed/"), RangeEnd = B(seedPrefixEnd), MinModRevision = -1, MaxModRevision = -1, MinCreateRevision = -1, MaxCreateRevision = -1,
        })) { Summarize = RangeSummary };
        yield return new("compact to a future revision", Methods.Compact, Framed(new CompactionRequest { Revision = long.MaxValue }));
        yield return new("compact to a negative revision", Methods.Compact, Framed(new CompactionRequest { Revision = -1 }));
        yield return new("compact to long.MinValue", Methods.Compact, Framed(new CompactionRequest { Revision = long.MinValue }));
        yield return new("hashkv at a negative revision", Methods.HashKV, Framed(new HashKVRequest { Revision = -1 }));
        yield return new("hashkv at a future revision", Methods.HashKV, Framed(new HashKVRequest { Revision = long.MaxValue }));
        yield return new("txn compare with a future mod revision", Methods.Txn, Framed(new TxnRequest
        {
            Compare = { new Compare { Key = B("/badinput/seed/00"), Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Less, ModRevision = long.MaxValue } },
        })) { Summarize = TxnSummary };
        yield return new("txn range at a future revision", Methods.Txn, Framed(new TxnRequest
        {
            Success = { new RequestOp { RequestRange = new RangeRequest { Key = B("/badinput/seed/00"), Revision = long.MaxValue } } },
        }));

        // Txn shape.
        yield return new("txn with 129 puts", Methods.Txn, Framed(new TxnRequest
        {
            Success = { Enumerable.Range(0, 129).Select(i => new RequestOp { RequestPut = new PutRequest { Key = B($"/badinput/many/{i}") } }) },
        }));
        yield return new("txn with 129 compares", Methods.Txn, Framed(new TxnRequest
        {
            Compare = { Enumerable.Range(0, 129).Select(i => new Compare { Key = B($"/badinput/many/{i}") }) },
        }));
        yield return new("txn putting one key twice", Methods.Txn, Framed(new TxnRequest
        {
            Success =
            {
                new RequestOp { RequestPut = new PutRequest { Key = B("/badinput/dup"), Value = B("1") } },
                new RequestOp { RequestPut = new PutRequest { Key = B("/badinput/dup"), Value = B("2") } },
            },
        }));
        yield return new("txn putting a key it deletes", Methods.Txn, Framed(new TxnRequest
        {
            Failure =
            {
                new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = B("/badinput/dup/"), RangeEnd = B("/badinput/dup0") } },
                new RequestOp { RequestPut = new PutRequest { Key = B("/badinput/dup/x"), Value = B("2") } },
            },
        }));
    }

    private static IEnumerable<BadInputCase> Routing()
    {
        yield return new("unknown method of KV", "/etcdserverpb.KV/Nope", Framed(new RangeRequest()));
        yield return new("unknown service", "/etcdserverpb.Nope/Range", Framed(new RangeRequest()));
        yield return new("method path without a service", "/Range", Framed(new RangeRequest()));
        const string Http2Reset = "etcd 3.4's grpc-go resets the stream (PROTOCOL_ERROR) on a request that is not gRPC; " +
                                  "dotcd answers as grpc-go 1.3x+ does (415 or 400 with a gRPC status), which issue #2 asks for";
        yield return new("content-type application/json", Methods.Range, RawGrpc.Frame(s_rangeA))
        {
            ContentType = "application/json",
            DotcdDiffers = Http2Reset,
            DotcdAnswer = "InvalidArgument: invalid gRPC request content-type \"application/json\"",
        };
        yield return new("content-type text/plain", Methods.Range, RawGrpc.Frame(s_rangeA))
        {
            ContentType = "text/plain",
            DotcdDiffers = Http2Reset,
            DotcdAnswer = "InvalidArgument: invalid gRPC request content-type \"text/plain\"",
        };
        yield return new("no content-type", Methods.Range, RawGrpc.Frame(s_rangeA))
        {
            ContentType = null,
            DotcdDiffers = Http2Reset,
            DotcdAnswer = "InvalidArgument: invalid gRPC request content-type \"\"",
        };
        yield return new("content-type application/grpc+json", Methods.Range, RawGrpc.Frame(s_rangeA))
        {
            ContentType = "application/grpc+json",
            DotcdDiffers = "etcd's custom codec answers protobuf whatever codec the client names; a client asking for JSON " +
                           "cannot read that, so dotcd refuses the codec it does not speak",
            DotcdAnswer = "InvalidArgument: invalid gRPC request content-type \"application/grpc+json\"",
        };
        yield return new("grpc-timeout of 99999999 hours", Methods.Range, RawGrpc.Frame(s_rangeA))
        {
            Headers = [("grpc-timeout", "99999999H")],
            Summarize = RangeSummary,
        };
        yield return new("grpc-timeout malformed", Methods.Range, RawGrpc.Frame(s_rangeA))
        {
            Headers = [("grpc-timeout", "soon")],
            DotcdDiffers = Http2Reset,
            DotcdAnswer = "Internal: malformed grpc-timeout: \"soon\"",
        };
    }

    public static IReadOnlyList<BadInputCase> All { get; } =
        [.. Framing(), .. Protobuf(), .. Sizes(), .. Semantics(), .. Routing()];

    public static BadInputCase Find(string name) => All.Single(c => c.Name == name);
}
