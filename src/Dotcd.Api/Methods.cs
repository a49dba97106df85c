using System.Collections.Frozen;
using Google.Protobuf;

namespace Dotcd.Api;

/// <summary>How a gRPC method streams its messages (grpc's MethodType).</summary>
public enum MethodKind
{
    Unary,            // One request, one response.
    ClientStreaming,  // Many requests, one response (etcd has none; listed for completeness).
    ServerStreaming,  // One request, many responses (Maintenance.Snapshot, Election.Observe).
    DuplexStreaming,  // Both sides stream independently (Watch, LeaseKeepAlive).
}

/// <summary>One gRPC method of etcd's API: its path, how it streams and the parsers of its messages.</summary>
public sealed record EtcdMethod(string Path, MessageParser RequestParser, MessageParser ResponseParser, MethodKind Kind)
{
    /// <summary>The service's full name, e.g. "etcdserverpb.KV".</summary>
    public string Service { get; } = Path[1..Path.LastIndexOf('/')];

    /// <summary>The method's name, e.g. "Range".</summary>
    public string Name { get; } = Path[(Path.LastIndexOf('/') + 1)..];
}

/// <summary>Every gRPC method path etcd serves on its client port, for the gRPC layer to route.</summary>
/// <remarks>
/// A path is "/" + package + "." + service + "/" + method, as declared in Protos/. Method names
/// are unique across etcd's services, so each constant is named after its method alone. The
/// Dotcd.Api tests check this table against the services in the generated descriptors.
/// </remarks>
public static class Methods
{
    // etcdserverpb.KV
    public const string Range = "/etcdserverpb.KV/Range";
    public const string Put = "/etcdserverpb.KV/Put";
    public const string DeleteRange = "/etcdserverpb.KV/DeleteRange";
    public const string Txn = "/etcdserverpb.KV/Txn";
    public const string Compact = "/etcdserverpb.KV/Compact";

    // etcdserverpb.Watch
    public const string Watch = "/etcdserverpb.Watch/Watch";

    // etcdserverpb.Lease
    public const string LeaseGrant = "/etcdserverpb.Lease/LeaseGrant";
    public const string LeaseRevoke = "/etcdserverpb.Lease/LeaseRevoke";
    public const string LeaseKeepAlive = "/etcdserverpb.Lease/LeaseKeepAlive";
    public const string LeaseTimeToLive = "/etcdserverpb.Lease/LeaseTimeToLive";
    public const string LeaseLeases = "/etcdserverpb.Lease/LeaseLeases";

    // etcdserverpb.Cluster
    public const string MemberAdd = "/etcdserverpb.Cluster/MemberAdd";
    public const string MemberRemove = "/etcdserverpb.Cluster/MemberRemove";
    public const string MemberUpdate = "/etcdserverpb.Cluster/MemberUpdate";
    public const string MemberList = "/etcdserverpb.Cluster/MemberList";
    public const string MemberPromote = "/etcdserverpb.Cluster/MemberPromote";

    // etcdserverpb.Maintenance
    public const string Alarm = "/etcdserverpb.Maintenance/Alarm";
    public const string Status = "/etcdserverpb.Maintenance/Status";
    public const string Defragment = "/etcdserverpb.Maintenance/Defragment";
    public const string Hash = "/etcdserverpb.Maintenance/Hash";
    public const string HashKV = "/etcdserverpb.Maintenance/HashKV";
    public const string Snapshot = "/etcdserverpb.Maintenance/Snapshot";
    public const string MoveLeader = "/etcdserverpb.Maintenance/MoveLeader";
    public const string Downgrade = "/etcdserverpb.Maintenance/Downgrade";

    // etcdserverpb.Auth
    public const string AuthEnable = "/etcdserverpb.Auth/AuthEnable";
    public const string AuthDisable = "/etcdserverpb.Auth/AuthDisable";
    public const string AuthStatus = "/etcdserverpb.Auth/AuthStatus";
    public const string Authenticate = "/etcdserverpb.Auth/Authenticate";
    public const string UserAdd = "/etcdserverpb.Auth/UserAdd";
    public const string UserGet = "/etcdserverpb.Auth/UserGet";
    public const string UserList = "/etcdserverpb.Auth/UserList";
    public const string UserDelete = "/etcdserverpb.Auth/UserDelete";
    public const string UserChangePassword = "/etcdserverpb.Auth/UserChangePassword";
    public const string UserGrantRole = "/etcdserverpb.Auth/UserGrantRole";
    public const string UserRevokeRole = "/etcdserverpb.Auth/UserRevokeRole";
    public const string RoleAdd = "/etcdserverpb.Auth/RoleAdd";
    public const string RoleGet = "/etcdserverpb.Auth/RoleGet";
    public const string RoleList = "/etcdserverpb.Auth/RoleList";
    public const string RoleDelete = "/etcdserverpb.Auth/RoleDelete";
    public const string RoleGrantPermission = "/etcdserverpb.Auth/RoleGrantPermission";
    public const string RoleRevokePermission = "/etcdserverpb.Auth/RoleRevokePermission";

    // v3lockpb.Lock
    public const string Lock = "/v3lockpb.Lock/Lock";
    public const string Unlock = "/v3lockpb.Lock/Unlock";

    // v3electionpb.Election
    public const string Campaign = "/v3electionpb.Election/Campaign";
    public const string Proclaim = "/v3electionpb.Election/Proclaim";
    public const string Leader = "/v3electionpb.Election/Leader";
    public const string Observe = "/v3electionpb.Election/Observe";
    public const string Resign = "/v3electionpb.Election/Resign";

    /// <summary>All methods in declaration order.</summary>
    public static readonly IReadOnlyList<EtcdMethod> All =
    [
        new(Range, Etcdserverpb.RangeRequest.Parser, Etcdserverpb.RangeResponse.Parser, MethodKind.Unary),
        new(Put, Etcdserverpb.PutRequest.Parser, Etcdserverpb.PutResponse.Parser, MethodKind.Unary),
        new(DeleteRange, Etcdserverpb.DeleteRangeRequest.Parser, Etcdserverpb.DeleteRangeResponse.Parser, MethodKind.Unary),
        new(Txn, Etcdserverpb.TxnRequest.Parser, Etcdserverpb.TxnResponse.Parser, MethodKind.Unary),
        new(Compact, Etcdserverpb.CompactionRequest.Parser, Etcdserverpb.CompactionResponse.Parser, MethodKind.Unary),
        new(Watch, Etcdserverpb.WatchRequest.Parser, Etcdserverpb.WatchResponse.Parser, MethodKind.DuplexStreaming),
        new(LeaseGrant, Etcdserverpb.LeaseGrantRequest.Parser, Etcdserverpb.LeaseGrantResponse.Parser, MethodKind.Unary),
        new(LeaseRevoke, Etcdserverpb.LeaseRevokeRequest.Parser, Etcdserverpb.LeaseRevokeResponse.Parser, MethodKind.Unary),
        new(LeaseKeepAlive, Etcdserverpb.LeaseKeepAliveRequest.Parser, Etcdserverpb.LeaseKeepAliveResponse.Parser, MethodKind.DuplexStreaming),
        new(LeaseTimeToLive, Etcdserverpb.LeaseTimeToLiveRequest.Parser, Etcdserverpb.LeaseTimeToLiveResponse.Parser, MethodKind.Unary),
        new(LeaseLeases, Etcdserverpb.LeaseLeasesRequest.Parser, Etcdserverpb.LeaseLeasesResponse.Parser, MethodKind.Unary),
        new(MemberAdd, Etcdserverpb.MemberAddRequest.Parser, Etcdserverpb.MemberAddResponse.Parser, MethodKind.Unary),
        new(MemberRemove, Etcdserverpb.MemberRemoveRequest.Parser, Etcdserverpb.MemberRemoveResponse.Parser, MethodKind.Unary),
        new(MemberUpdate, Etcdserverpb.MemberUpdateRequest.Parser, Etcdserverpb.MemberUpdateResponse.Parser, MethodKind.Unary),
        new(MemberList, Etcdserverpb.MemberListRequest.Parser, Etcdserverpb.MemberListResponse.Parser, MethodKind.Unary),
        new(MemberPromote, Etcdserverpb.MemberPromoteRequest.Parser, Etcdserverpb.MemberPromoteResponse.Parser, MethodKind.Unary),
        new(Alarm, Etcdserverpb.AlarmRequest.Parser, Etcdserverpb.AlarmResponse.Parser, MethodKind.Unary),
        new(Status, Etcdserverpb.StatusRequest.Parser, Etcdserverpb.StatusResponse.Parser, MethodKind.Unary),
        new(Defragment, Etcdserverpb.DefragmentRequest.Parser, Etcdserverpb.DefragmentResponse.Parser, MethodKind.Unary),
        new(Hash, Etcdserverpb.HashRequest.Parser, Etcdserverpb.HashResponse.Parser, MethodKind.Unary),
        new(HashKV, Etcdserverpb.HashKVRequest.Parser, Etcdserverpb.HashKVResponse.Parser, MethodKind.Unary),
        new(Snapshot, Etcdserverpb.SnapshotRequest.Parser, Etcdserverpb.SnapshotResponse.Parser, MethodKind.ServerStreaming),
        new(MoveLeader, Etcdserverpb.MoveLeaderRequest.Parser, Etcdserverpb.MoveLeaderResponse.Parser, MethodKind.Unary),
        new(Downgrade, Etcdserverpb.DowngradeRequest.Parser, Etcdserverpb.DowngradeResponse.Parser, MethodKind.Unary),
        new(AuthEnable, Etcdserverpb.AuthEnableRequest.Parser, Etcdserverpb.AuthEnableResponse.Parser, MethodKind.Unary),
        new(AuthDisable, Etcdserverpb.AuthDisableRequest.Parser, Etcdserverpb.AuthDisableResponse.Parser, MethodKind.Unary),
        new(AuthStatus, Etcdserverpb.AuthStatusRequest.Parser, Etcdserverpb.AuthStatusResponse.Parser, MethodKind.Unary),
        new(Authenticate, Etcdserverpb.AuthenticateRequest.Parser, Etcdserverpb.AuthenticateResponse.Parser, MethodKind.Unary),
        new(UserAdd, Etcdserverpb.AuthUserAddRequest.Parser, Etcdserverpb.AuthUserAddResponse.Parser, MethodKind.Unary),
        new(UserGet, Etcdserverpb.AuthUserGetRequest.Parser, Etcdserverpb.AuthUserGetResponse.Parser, MethodKind.Unary),
        new(UserList, Etcdserverpb.AuthUserListRequest.Parser, Etcdserverpb.AuthUserListResponse.Parser, MethodKind.Unary),
        new(UserDelete, Etcdserverpb.AuthUserDeleteRequest.Parser, Etcdserverpb.AuthUserDeleteResponse.Parser, MethodKind.Unary),
        new(UserChangePassword, Etcdserverpb.AuthUserChangePasswordRequest.Parser, Etcdserverpb.AuthUserChangePasswordResponse.Parser, MethodKind.Unary),
        new(UserGrantRole, Etcdserverpb.AuthUserGrantRoleRequest.Parser, Etcdserverpb.AuthUserGrantRoleResponse.Parser, MethodKind.Unary),
        new(UserRevokeRole, Etcdserverpb.AuthUserRevokeRoleRequest.Parser, Etcdserverpb.AuthUserRevokeRoleResponse.Parser, MethodKind.Unary),
        new(RoleAdd, Etcdserverpb.AuthRoleAddRequest.Parser, Etcdserverpb.AuthRoleAddResponse.Parser, MethodKind.Unary),
        new(RoleGet, Etcdserverpb.AuthRoleGetRequest.Parser, Etcdserverpb.AuthRoleGetResponse.Parser, MethodKind.Unary),
        new(RoleList, Etcdserverpb.AuthRoleListRequest.Parser, Etcdserverpb.AuthRoleListResponse.Parser, MethodKind.Unary),
        new(RoleDelete, Etcdserverpb.AuthRoleDeleteRequest.Parser, Etcdserverpb.AuthRoleDeleteResponse.Parser, MethodKind.Unary),
        new(RoleGrantPermission, Etcdserverpb.AuthRoleGrantPermissionRequest.Parser, Etcdserverpb.AuthRoleGrantPermissionResponse.Parser, MethodKind.Unary),
        new(RoleRevokePermission, Etcdserverpb.AuthRoleRevokePermissionRequest.Parser, Etcdserverpb.AuthRoleRevokePermissionResponse.Parser, MethodKind.Unary),
        new(Lock, V3lockpb.LockRequest.Parser, V3lockpb.LockResponse.Parser, MethodKind.Unary),
        new(Unlock, V3lockpb.UnlockRequest.Parser, V3lockpb.UnlockResponse.Parser, MethodKind.Unary),
        new(Campaign, V3electionpb.CampaignRequest.Parser, V3electionpb.CampaignResponse.Parser, MethodKind.Unary),
        new(Proclaim, V3electionpb.ProclaimRequest.Parser, V3electionpb.ProclaimResponse.Parser, MethodKind.Unary),
        new(Leader, V3electionpb.LeaderRequest.Parser, V3electionpb.LeaderResponse.Parser, MethodKind.Unary),
        new(Observe, V3electionpb.LeaderRequest.Parser, V3electionpb.LeaderResponse.Parser, MethodKind.ServerStreaming),
        new(Resign, V3electionpb.ResignRequest.Parser, V3electionpb.ResignResponse.Parser, MethodKind.Unary),
    ];

    private static readonly FrozenDictionary<string, EtcdMethod> s_byPath =
        All.ToFrozenDictionary(method => method.Path, StringComparer.Ordinal);

    /// <summary>Looks a request path up; false for a path etcd does not serve (gRPC status Unimplemented).</summary>
    public static bool TryFind(string path, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EtcdMethod? method) =>
        s_byPath.TryGetValue(path, out method);
}
