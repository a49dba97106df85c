using Google.Protobuf.Reflection;

namespace Dotcd.Api.Tests;

public sealed class MethodsTests
{
    private static readonly FileDescriptor[] s_serviceFiles =
    [
        Etcdserverpb.RpcReflection.Descriptor,
        V3lockpb.V3LockReflection.Descriptor,
        V3electionpb.V3ElectionReflection.Descriptor,
    ];

    [Fact]
    public void EveryDeclaredMethodIsRoutableWithItsStreamingKindAndMessages()
    {
        int declared = 0;
        foreach (ServiceDescriptor service in s_serviceFiles.SelectMany(file => file.Services))
        {
            foreach (MethodDescriptor method in service.Methods)
            {
                declared++;
                string path = $"/{service.FullName}/{method.Name}";
                Assert.True(Methods.TryFind(path, out EtcdMethod? found), $"{path} is not in Methods");
                Assert.Equal(KindOf(method), found.Kind);
                Assert.Equal(service.FullName, found.Service);
                Assert.Equal(method.Name, found.Name);
                Assert.Same(method.InputType, found.RequestParser.ParseFrom(ReadOnlySpan<byte>.Empty).Descriptor);
                Assert.Same(method.OutputType, found.ResponseParser.ParseFrom(ReadOnlySpan<byte>.Empty).Descriptor);
            }
        }
        Assert.Equal(declared, Methods.All.Count);
        Assert.Equal(declared, Methods.All.Select(m => m.Path).Distinct().Count());
    }

    [Fact]
    public void PathsAreEtcdsGrpcPaths()
    {
        Assert.Equal("/etcdserverpb.KV/Range", Methods.Range);
        Assert.Equal("/etcdserverpb.KV/Compact", Methods.Compact);
        Assert.Equal("/etcdserverpb.Watch/Watch", Methods.Watch);
        Assert.Equal("/etcdserverpb.Lease/LeaseKeepAlive", Methods.LeaseKeepAlive);
        Assert.Equal("/etcdserverpb.Cluster/MemberPromote", Methods.MemberPromote);
        Assert.Equal("/etcdserverpb.Maintenance/Snapshot", Methods.Snapshot);
        Assert.Equal("/etcdserverpb.Auth/RoleRevokePermission", Methods.RoleRevokePermission);
        Assert.Equal("/v3lockpb.Lock/Lock", Methods.Lock);
        Assert.Equal("/v3electionpb.Election/Observe", Methods.Observe);
    }

    [Fact]
    public void StreamingMethodsAreMarkedSo()
    {
        Assert.Equal(MethodKind.DuplexStreaming, Find(Methods.Watch).Kind);
        Assert.Equal(MethodKind.DuplexStreaming, Find(Methods.LeaseKeepAlive).Kind);
        Assert.Equal(MethodKind.ServerStreaming, Find(Methods.Snapshot).Kind);
        Assert.Equal(MethodKind.ServerStreaming, Find(Methods.Observe).Kind);
        Assert.Equal(MethodKind.Unary, Find(Methods.Put).Kind);
        Assert.Equal(4, Methods.All.Count(m => m.Kind != MethodKind.Unary));
    }

    [Fact]
    public void UnknownPathsAreNotFound()
    {
        Assert.False(Methods.TryFind("/etcdserverpb.KV/Nope", out _));
        Assert.False(Methods.TryFind("/etcdserverpb.kv/Range", out _)); // Paths are case-sensitive.
        Assert.False(Methods.TryFind("", out _));
    }

    private static EtcdMethod Find(string path) =>
        Methods.TryFind(path, out EtcdMethod? method) ? method : throw new KeyNotFoundException(path);

    private static MethodKind KindOf(MethodDescriptor method) => (method.IsClientStreaming, method.IsServerStreaming) switch
    {
        (false, false) => MethodKind.Unary,
        (true, false) => MethodKind.ClientStreaming,
        (false, true) => MethodKind.ServerStreaming,
        (true, true) => MethodKind.DuplexStreaming,
    };
}
