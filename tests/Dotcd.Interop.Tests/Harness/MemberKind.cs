namespace Dotcd.Interop.Tests.Harness;

/// <summary>Which server a <see cref="MemberProcess"/> runs: both get the same etcd flags.</summary>
public enum MemberKind
{
    Etcd,
    Dotcd,
}
