namespace Dotcd.Server.Apply;

/// <summary>Answers whether a lease exists when a put attaches it (etcd's lessor.Lookup).</summary>
public interface ILeaseLookup
{
    bool Exists(long leaseId);
}
