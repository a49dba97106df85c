using Google.Protobuf.Reflection;

namespace Dotcd.Api.Tests;

// The wire contract: every message, field, enum value and rpc in etcd's own .proto files (3.4, from
// the Debian Go sources) exists in our generated descriptors under the same name and number, with
// the same type, repetition and packing. Whatever we have beyond etcd 3.4 must be one of the listed
// 3.5+ additions, so a stray or misnumbered field fails here too.
public sealed class EtcdProtoContractTests
{
    // etcd's snappb message is lower-case `snapshot`; names never reach the wire, ours is C#-cased.
    private static readonly Dictionary<string, string> s_renamed = new() { ["snappb.snapshot"] = "snappb.Snapshot" };

    [GoSourceFact("etcdserver/etcdserverpb/rpc.proto")]
    public void RpcProtoKeepsEtcdsMessagesFieldsAndMethods() =>
        AssertMatches("etcdserver/etcdserverpb/rpc.proto", Etcdserverpb.RpcReflection.Descriptor,
            // Added in etcd 3.5 and 3.6 (numbers from etcd's api/etcdserverpb/rpc.proto).
            "field etcdserverpb.HashKVResponse.hash_revision=4",
            "field etcdserverpb.SnapshotResponse.version=4",
            "field etcdserverpb.MemberListRequest.linearizable=1",
            "field etcdserverpb.StatusResponse.storageVersion=11",
            "field etcdserverpb.StatusResponse.dbSizeQuota=12",
            "field etcdserverpb.StatusResponse.downgradeInfo=13",
            "field etcdserverpb.AuthUserAddRequest.hashedPassword=4",
            "field etcdserverpb.AuthUserChangePasswordRequest.hashedPassword=3",
            "message etcdserverpb.DowngradeRequest",
            "enum etcdserverpb.DowngradeRequest.DowngradeAction",
            "message etcdserverpb.DowngradeResponse",
            "message etcdserverpb.DowngradeVersionTestRequest",
            "message etcdserverpb.DowngradeInfo",
            "message etcdserverpb.AuthStatusRequest",
            "message etcdserverpb.AuthStatusResponse",
            "rpc etcdserverpb.Maintenance/Downgrade",
            "rpc etcdserverpb.Auth/AuthStatus");

    [GoSourceFact("etcdserver/etcdserverpb/raft_internal.proto")]
    public void RaftInternalProtoKeepsEtcdsApplyEnvelope() =>
        AssertMatches("etcdserver/etcdserverpb/raft_internal.proto", Etcdserverpb.RaftInternalReflection.Descriptor,
            "field etcdserverpb.RequestHeader.requester_member_id=4",
            "field etcdserverpb.InternalRaftRequest.auth_status=1013",
            "field etcdserverpb.InternalRaftRequest.cluster_version_set=1300",
            "field etcdserverpb.InternalRaftRequest.cluster_member_attr_set=1301",
            "field etcdserverpb.InternalRaftRequest.downgrade_info_set=1302",
            "field etcdserverpb.InternalRaftRequest.downgrade_version_test=9900");

    [GoSourceFact("etcdserver/etcdserverpb/etcdserver.proto")]
    public void EtcdserverProtoKeepsEtcdsV2RequestAndWalMetadata() =>
        AssertMatches("etcdserver/etcdserverpb/etcdserver.proto", Etcdserverpb.EtcdserverReflection.Descriptor);

    [GoSourceFact("raft/raftpb/raft.proto")]
    public void RaftProtoKeepsEtcdsRaftMessages() =>
        AssertMatches("raft/raftpb/raft.proto", Raftpb.RaftReflection.Descriptor);

    [GoSourceFact("mvcc/mvccpb/kv.proto")]
    public void KvProtoKeepsEtcdsKeyValueAndEvent() =>
        AssertMatches("mvcc/mvccpb/kv.proto", Mvccpb.KvReflection.Descriptor);

    [GoSourceFact("auth/authpb/auth.proto")]
    public void AuthProtoKeepsEtcdsUsersAndRoles() =>
        AssertMatches("auth/authpb/auth.proto", Authpb.AuthReflection.Descriptor);

    [GoSourceFact("lease/leasepb/lease.proto")]
    public void LeaseProtoKeepsEtcdsStoredLease() =>
        AssertMatches("lease/leasepb/lease.proto", Leasepb.LeaseReflection.Descriptor);

    [GoSourceFact("wal/walpb/record.proto")]
    public void WalRecordProtoKeepsEtcdsRecordFraming() =>
        AssertMatches("wal/walpb/record.proto", Walpb.RecordReflection.Descriptor,
            "field walpb.Snapshot.conf_state=3");

    [GoSourceFact("etcdserver/api/snap/snappb/snap.proto")]
    public void SnapProtoKeepsEtcdsSnapshotContainer() =>
        AssertMatches("etcdserver/api/snap/snappb/snap.proto", Snappb.SnapReflection.Descriptor);

    [GoSourceFact("etcdserver/api/v3lock/v3lockpb/v3lock.proto")]
    public void LockProtoKeepsEtcdsLockService() =>
        AssertMatches("etcdserver/api/v3lock/v3lockpb/v3lock.proto", V3lockpb.V3LockReflection.Descriptor);

    [GoSourceFact("etcdserver/api/v3election/v3electionpb/v3election.proto")]
    public void ElectionProtoKeepsEtcdsElectionService() =>
        AssertMatches("etcdserver/api/v3election/v3electionpb/v3election.proto", V3electionpb.V3ElectionReflection.Descriptor);

    [Fact]
    public void ContractCheckNoticesAMisnumberedField()
    {
        // The checker itself must fail on a wrong number, a wrong type and a missing field.
        var etcd = GoProtoFile.Parse("""
            syntax = "proto3";
            package mvccpb;
            message KeyValue {
              bytes key = 1;
              int64 create_revision = 3; // ours is 2
              sint64 version = 4;        // ours is int64
              bytes missing = 20;
            }
            """);
        List<string> problems = Compare(etcd, Mvccpb.KvReflection.Descriptor, additions: []);
        Assert.Contains(problems, p => p.Contains("mvccpb.KeyValue.create_revision", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("mvccpb.KeyValue.version", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("mvccpb.KeyValue.missing", StringComparison.Ordinal));
    }

    private static void AssertMatches(string relativePath, FileDescriptor ours, params string[] additions)
    {
        GoProtoFile etcd = GoProtoFile.Load(Path.Combine(GoProtoFile.EtcdRoot, relativePath));
        Assert.NotEmpty(etcd.Messages); // The parser read something.
        List<string> problems = Compare(etcd, ours, additions);
        Assert.True(problems.Count == 0, $"{relativePath} vs {ours.Name}:\n  " + string.Join("\n  ", problems));
    }

    private static List<string> Compare(GoProtoFile etcd, FileDescriptor ours, IReadOnlyCollection<string> additions)
    {
        var problems = new List<string>();
        if (ours.Package != etcd.Package)
        {
            problems.Add($"package {ours.Package}, etcd has {etcd.Package}");
        }

        var messages = new Dictionary<string, MessageDescriptor>();
        var enums = new Dictionary<string, EnumDescriptor>();
        foreach (MessageDescriptor message in ours.MessageTypes)
        {
            Collect(message, messages, enums);
        }
        foreach (EnumDescriptor e in ours.EnumTypes)
        {
            enums[e.FullName] = e;
        }
        var ourExtras = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, MessageDescriptor message) in messages)
        {
            ourExtras.Add($"message {name}");
            foreach (FieldDescriptor field in message.Fields.InDeclarationOrder())
            {
                ourExtras.Add($"field {name}.{field.Name}={field.FieldNumber}");
            }
        }
        foreach (string name in enums.Keys)
        {
            ourExtras.Add($"enum {name}");
        }
        foreach (ServiceDescriptor service in ours.Services)
        {
            foreach (MethodDescriptor method in service.Methods)
            {
                ourExtras.Add($"rpc {service.FullName}/{method.Name}");
            }
        }

        foreach (ProtoMessage theirs in etcd.Messages)
        {
            string name = s_renamed.GetValueOrDefault(theirs.FullName, theirs.FullName);
            if (!messages.TryGetValue(name, out MessageDescriptor? message))
            {
                problems.Add($"message {theirs.FullName} is missing");
                continue;
            }
            ourExtras.Remove($"message {name}");
            foreach (ProtoField field in theirs.Fields)
            {
                FieldDescriptor? mine = message.FindFieldByNumber(field.Number);
                string where = $"{theirs.FullName}.{field.Name} = {field.Number}";
                if (mine is null)
                {
                    problems.Add($"field {where} is missing");
                    continue;
                }
                ourExtras.Remove($"field {name}.{mine.Name}={mine.FieldNumber}");
                if (mine.Name != field.Name)
                {
                    problems.Add($"field {where} is named {mine.Name} here");
                }
                if (!SameType(field.Type, mine))
                {
                    problems.Add($"field {where} has type {field.Type}, ours {Describe(mine)}");
                }
                if (mine.IsRepeated != field.Repeated)
                {
                    problems.Add($"field {where} repeated={field.Repeated}, ours {mine.IsRepeated}");
                }
                if (field.Repeated && IsPackable(mine) && mine.IsPacked != ExpectPacked(etcd, field))
                {
                    problems.Add($"field {where} packed={ExpectPacked(etcd, field)}, ours {mine.IsPacked}");
                }
                if ((field.Oneof is null) != (mine.RealContainingOneof is null) ||
                    (field.Oneof is not null && field.Oneof != mine.RealContainingOneof!.Name))
                {
                    problems.Add($"field {where} is in oneof '{field.Oneof}', ours '{mine.RealContainingOneof?.Name}'");
                }
            }
        }

        foreach (ProtoEnum theirs in etcd.Enums)
        {
            if (!enums.TryGetValue(theirs.FullName, out EnumDescriptor? mine))
            {
                problems.Add($"enum {theirs.FullName} is missing");
                continue;
            }
            ourExtras.Remove($"enum {theirs.FullName}");
            foreach ((string valueName, int number) in theirs.Values)
            {
                EnumValueDescriptor? value = mine.FindValueByName(valueName);
                if (value is null || value.Number != number)
                {
                    problems.Add($"enum value {theirs.FullName}.{valueName} = {number}: ours {value?.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing"}");
                }
            }
            if (mine.Values.Count != theirs.Values.Count)
            {
                problems.Add($"enum {theirs.FullName} has {theirs.Values.Count} values, ours {mine.Values.Count}");
            }
        }

        foreach (ProtoService theirs in etcd.Services)
        {
            ServiceDescriptor? mine = ours.Services.FirstOrDefault(s => s.FullName == theirs.FullName);
            if (mine is null)
            {
                problems.Add($"service {theirs.FullName} is missing");
                continue;
            }
            foreach (ProtoMethod method in theirs.Methods)
            {
                MethodDescriptor? m = mine.FindMethodByName(method.Name);
                if (m is null)
                {
                    problems.Add($"rpc {theirs.FullName}/{method.Name} is missing");
                    continue;
                }
                ourExtras.Remove($"rpc {theirs.FullName}/{method.Name}");
                if (m.InputType.Name != ShortName(method.Input) || m.OutputType.Name != ShortName(method.Output) ||
                    m.IsClientStreaming != method.ClientStreaming || m.IsServerStreaming != method.ServerStreaming)
                {
                    problems.Add($"rpc {theirs.FullName}/{method.Name} differs in its message types or streaming");
                }
            }
        }

        // Fields of whole new messages are covered by the message's own line.
        foreach (string addition in additions)
        {
            if (!ourExtras.Remove(addition))
            {
                problems.Add($"listed addition '{addition}' is not in our descriptors");
            }
            if (addition.StartsWith("message ", StringComparison.Ordinal))
            {
                string prefix = "field " + addition["message ".Length..] + ".";
                ourExtras.RemoveWhere(extra => extra.StartsWith(prefix, StringComparison.Ordinal));
            }
        }
        problems.AddRange(ourExtras.Order(StringComparer.Ordinal).Select(extra => $"{extra} is ours alone and not a listed 3.5+ addition"));
        return problems;
    }

    private static void Collect(MessageDescriptor message, Dictionary<string, MessageDescriptor> messages, Dictionary<string, EnumDescriptor> enums)
    {
        messages[message.FullName] = message;
        foreach (MessageDescriptor nested in message.NestedTypes)
        {
            Collect(nested, messages, enums);
        }
        foreach (EnumDescriptor e in message.EnumTypes)
        {
            enums[e.FullName] = e;
        }
    }

    private static readonly Dictionary<string, FieldType> s_scalars = new()
    {
        ["double"] = FieldType.Double, ["float"] = FieldType.Float,
        ["int32"] = FieldType.Int32, ["int64"] = FieldType.Int64,
        ["uint32"] = FieldType.UInt32, ["uint64"] = FieldType.UInt64,
        ["sint32"] = FieldType.SInt32, ["sint64"] = FieldType.SInt64,
        ["fixed32"] = FieldType.Fixed32, ["fixed64"] = FieldType.Fixed64,
        ["sfixed32"] = FieldType.SFixed32, ["sfixed64"] = FieldType.SFixed64,
        ["bool"] = FieldType.Bool, ["string"] = FieldType.String, ["bytes"] = FieldType.Bytes,
    };

    private static bool SameType(string theirs, FieldDescriptor mine)
    {
        if (s_scalars.TryGetValue(theirs, out FieldType scalar))
        {
            return mine.FieldType == scalar;
        }
        string? ourName = mine.FieldType switch
        {
            FieldType.Message => mine.MessageType.FullName,
            FieldType.Enum => mine.EnumType.FullName,
            _ => null,
        };
        if (ourName is null)
        {
            return false;
        }
        // A qualified reference names the package; a plain one resolves in the file's own scope.
        return theirs.Contains('.') ? ourName == s_renamed.GetValueOrDefault(theirs, theirs) : ShortName(ourName) == theirs;
    }

    private static string Describe(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Message => field.MessageType.FullName,
        FieldType.Enum => field.EnumType.FullName,
        _ => field.FieldType.ToString(),
    };

    private static bool IsPackable(FieldDescriptor field) =>
        field.FieldType is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    // proto2 repeated scalars are unpacked unless marked packed; proto3 ones packed unless marked not.
    private static bool ExpectPacked(GoProtoFile file, ProtoField field) =>
        field.Options.Contains("packed = true", StringComparison.Ordinal) ||
        (file.Syntax == "proto3" && !field.Options.Contains("packed = false", StringComparison.Ordinal));

    private static string ShortName(string name) => name[(name.LastIndexOf('.') + 1)..];
}
