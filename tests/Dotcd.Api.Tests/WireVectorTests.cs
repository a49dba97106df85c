using Dotcd.Api.Authpb;
using Dotcd.Api.Etcdserverpb;
using Dotcd.Api.Mvccpb;
using Dotcd.Api.Raft;
using Google.Protobuf;
using Core = Dotcd.Raft;
using Pb = Dotcd.Api.Raftpb;

namespace Dotcd.Api.Tests;

// Bytes worked out by hand from the protobuf encoding rules and etcd's field numbers (and, for
// raft messages, from what etcd's gogoproto marshalers write), so a wrong field number, wire type
// or signedness in our .proto files fails here even if both sides of a round trip agree.
// Tag byte = field number << 3 | wire type (0 varint, 2 length-delimited).
public sealed class WireVectorTests
{
    [Fact]
    public void PutRequestEncodesAsEtcdExpects()
    {
        var put = new PutRequest
        {
            Key = ByteString.CopyFromUtf8("foo"),
            Value = ByteString.CopyFromUtf8("bar"),
            Lease = 0x1234,
            PrevKv = true,
        };
        //                 key=1 "foo"            value=2 "bar"           lease=3 4660     prev_kv=4 true
        byte[] expected = [0x0a, 3, 0x66, 0x6f, 0x6f, 0x12, 3, 0x62, 0x61, 0x72, 0x18, 0xb4, 0x24, 0x20, 0x01];
        AssertEncodes(put, expected, PutRequest.Parser);
    }

    [Fact]
    public void KeyValueEncodesRevisionsAsPlainVarints()
    {
        var kv = new KeyValue
        {
            Key = ByteString.CopyFromUtf8("k"),
            CreateRevision = 2,
            ModRevision = 300,
            Version = 1,
            Value = ByteString.CopyFromUtf8("v"),
            Lease = -1, // int64, not sint64: a negative value takes ten bytes.
        };
        byte[] expected =
        [
            0x0a, 1, 0x6b,            // key = 1
            0x10, 0x02,               // create_revision = 2
            0x18, 0xac, 0x02,         // mod_revision = 3: 300
            0x20, 0x01,               // version = 4
            0x2a, 1, 0x76,            // value = 5
            0x30, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, // lease = 6: -1
        ];
        AssertEncodes(kv, expected, KeyValue.Parser);
    }

    [Fact]
    public void CompareAgainstModRevisionZeroKeepsTheZero()
    {
        // Kubernetes' create: a oneof member set to zero must still be sent, or etcd would compare versions.
        var compare = new Compare
        {
            Result = Compare.Types.CompareResult.Equal,
            Target = Compare.Types.CompareTarget.Mod,
            Key = ByteString.CopyFromUtf8("k"),
            ModRevision = 0,
            RangeEnd = ByteString.CopyFromUtf8("l"),
        };
        //                 target=2 MOD   key=3 "k"        mod_revision=6 0  range_end=64 "l"
        byte[] expected = [0x10, 0x02, 0x1a, 1, 0x6b, 0x30, 0x00, 0x82, 0x04, 1, 0x6c];
        AssertEncodes(compare, expected, Compare.Parser);
        Assert.Equal(Compare.TargetUnionOneofCase.ModRevision, Compare.Parser.ParseFrom(expected).TargetUnionCase);
    }

    [Fact]
    public void WatchResponseCarriesEventsInField11()
    {
        var response = new WatchResponse
        {
            Header = new ResponseHeader { Revision = 5 },
            Created = true,
            Events =
            {
                new Event
                {
                    Type = Event.Types.EventType.Delete,
                    Kv = new KeyValue { Key = ByteString.CopyFromUtf8("k"), ModRevision = 5 },
                },
            },
        };
        byte[] expected =
        [
            0x0a, 2, 0x18, 0x05,                 // header = 1 { revision = 3 }
            0x18, 0x01,                          // created = 3
            0x5a, 9,                             // events = 11
            0x08, 0x01,                          //   type = DELETE
            0x12, 5, 0x0a, 1, 0x6b, 0x18, 0x05,  //   kv { key "k", mod_revision 5 }
        ];
        AssertEncodes(response, expected, WatchResponse.Parser);
    }

    [Fact]
    public void StatusResponseCarriesEtcd36QuotaInField12()
    {
        var status = new StatusResponse { Version = "3.6.0", DbSizeQuota = 2L << 30 };
        byte[] expected = [0x12, 5, .."3.6.0"u8, 0x60, 0x80, 0x80, 0x80, 0x80, 0x08];
        AssertEncodes(status, expected, StatusResponse.Parser);
    }

    [Fact]
    public void PermissionEncodesAsEtcdExpects()
    {
        var permission = new Permission
        {
            PermType = Permission.Types.Type.Readwrite,
            Key = ByteString.CopyFromUtf8("a"),
            RangeEnd = ByteString.CopyFromUtf8("b"),
        };
        byte[] expected = [0x08, 0x02, 0x12, 1, 0x61, 0x1a, 1, 0x62];
        AssertEncodes(permission, expected, Permission.Parser);
    }

    [Fact]
    public void InternalRaftRequestPutsHeaderInField100()
    {
        var request = new InternalRaftRequest
        {
            ID = 7,
            Put = new PutRequest { Key = ByteString.CopyFromUtf8("a") },
            Header = new RequestHeader { ID = 1 },
        };
        byte[] expected =
        [
            0x08, 0x07,                   // ID = 1
            0x22, 3, 0x0a, 1, 0x61,       // put = 4 { key "a" }
            0xa2, 0x06, 2, 0x08, 0x01,    // header = 100 (tag 802 as a varint) { ID 1 }
        ];
        AssertEncodes(request, expected, InternalRaftRequest.Parser);
    }

    [Fact]
    public void EntryEncodesTypeAsField1AsEtcdDoes()
    {
        var entry = new Core.Entry(5, 7, Core.EntryType.ConfChange, "x"u8.ToArray());
        //                 Type=1     Term=2     Index=3    Data=4 "x"
        byte[] expected = [0x08, 0x01, 0x10, 0x05, 0x18, 0x07, 0x22, 1, 0x78];
        Assert.Equal(expected, RaftWire.ToWire(entry).ToByteArray());
    }

    [Fact]
    public void EntryAsEtcdWritesItDecodes()
    {
        // etcd writes zero-valued non-nullable fields (Type = EntryNormal here); we read them the same.
        byte[] etcd = [0x08, 0x00, 0x10, 0x04, 0x18, 0x0b, 0x22, 1, 0x64];
        Core.Entry entry = RaftWire.FromWire(Pb.Entry.Parser.ParseFrom(etcd));
        Assert.Equal((4UL, 11UL, Core.EntryType.Normal), (entry.Term, entry.Index, entry.Type));
        Assert.Equal("d"u8.ToArray(), entry.Data.ToArray());
        Assert.Equal(etcd[2..], RaftWire.ToWire(entry).ToByteArray()); // We leave the zero out.
    }

    [Fact]
    public void ConfStateListsAreWrittenUnpackedLikeEtcd()
    {
        var state = new Core.ConfState { Voters = [1, 2], Learners = [3], AutoLeave = true };
        //                 voters=1 1  voters=1 2  learners=2 3  auto_leave=5 true
        byte[] expected = [0x08, 0x01, 0x08, 0x02, 0x10, 0x03, 0x28, 0x01];
        Assert.Equal(expected, RaftWire.ToWire(state).ToByteArray());
    }

    [Fact]
    public void PackedConfStateListsAreAcceptedToo()
    {
        byte[] packed = [0x0a, 2, 0x01, 0x02, 0x12, 1, 0x03];
        Core.ConfState state = RaftWire.FromWire(Pb.ConfState.Parser.ParseFrom(packed));
        Assert.Equal([1UL, 2UL], state.Voters);
        Assert.Equal([3UL], state.Learners);
    }

    [Fact]
    public void MsgAppAsEtcdSendsItDecodesWithoutASnapshot()
    {
        // etcd writes every non-nullable field, including an empty snapshot, reject and rejectHint.
        byte[] etcd =
        [
            0x08, 0x03,                         // type = MsgApp
            0x10, 0x02,                         // to = 2
            0x18, 0x01,                         // from = 1
            0x20, 0x04,                         // term = 4
            0x28, 0x03,                         // logTerm = 3
            0x30, 0x0a,                         // index = 10
            0x3a, 9, 0x08, 0x00, 0x10, 0x04, 0x18, 0x0b, 0x22, 1, 0x64, // entries = 7: {Normal, 4, 11, "d"}
            0x40, 0x0a,                         // commit = 10
            0x4a, 10,                           // snapshot = 9 {
            0x12, 8,                            //   metadata = 2 {
            0x0a, 2, 0x28, 0x00,                //     conf_state = 1 { auto_leave false }
            0x10, 0x00, 0x18, 0x00,             //     index 0, term 0 } }
            0x50, 0x00,                         // reject = false
            0x58, 0x00,                         // rejectHint = 0
        ];
        Core.Message message = RaftWire.FromWire(Pb.Message.Parser.ParseFrom(etcd));
        Assert.Equal(Core.MessageType.MsgApp, message.Type);
        Assert.Equal((2UL, 1UL, 4UL, 3UL, 10UL, 10UL), (message.To, message.From, message.Term, message.LogTerm, message.Index, message.Commit));
        Assert.False(message.Reject);
        Assert.Null(message.Snapshot);
        Core.Entry entry = Assert.Single(message.Entries);
        Assert.Equal((4UL, 11UL), (entry.Term, entry.Index));
        Assert.Equal("d"u8.ToArray(), entry.Data.ToArray());
    }

    [Fact]
    public void ConfChangeUsesEtcdsNumbersWithIdFirst()
    {
        var change = new Core.ConfChange(Core.ConfChangeType.RemoveNode, 3, "c"u8.ToArray(), Id: 9);
        //                 id=1        type=2      node_id=3   context=4 "c"
        byte[] expected = [0x08, 0x09, 0x10, 0x01, 0x18, 0x03, 0x22, 1, 0x63];
        Assert.Equal(expected, RaftWire.ToWire(change).ToByteArray());
    }

    private static void AssertEncodes<T>(T message, byte[] expected, MessageParser<T> parser)
        where T : IMessage<T>
    {
        Assert.Equal(expected, message.ToByteArray());
        Assert.Equal(message, parser.ParseFrom(expected));
    }
}
