using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>The order of a range's results.</summary>
public enum SortOrder
{
    None = 0,
    Ascend = 1,
    Descend = 2,
}

/// <summary>The field a range's results are sorted by.</summary>
public enum SortTarget
{
    Key = 0,
    Version = 1,
    CreateRevision = 2,
    ModRevision = 3,
    Value = 4,
}

/// <summary>Options of a Range (etcdctl get's flags).</summary>
public sealed class GetOptions
{
    /// <summary>At most this many keys; 0: no limit. <c>more</c> and <c>count</c> say what was left out.</summary>
    public long Limit { get; init; }

    /// <summary>Read the store as of this revision; 0: the current revision.</summary>
    public long Revision { get; init; }

    public SortOrder SortOrder { get; init; }

    public SortTarget SortTarget { get; init; }

    /// <summary>Answer from the member's local state without a ReadIndex round (may be stale).</summary>
    public bool Serializable { get; init; }

    /// <summary>Return keys without values.</summary>
    public bool KeysOnly { get; init; }

    /// <summary>Return only the count of keys in the range.</summary>
    public bool CountOnly { get; init; }

    public long MinModRevision { get; init; }

    public long MaxModRevision { get; init; }

    public long MinCreateRevision { get; init; }

    public long MaxCreateRevision { get; init; }

    internal RangeRequest ApplyTo(RangeRequest request)
    {
        request.Limit = Limit;
        request.Revision = Revision;
        request.SortOrder = (RangeRequest.Types.SortOrder)SortOrder;
        request.SortTarget = (RangeRequest.Types.SortTarget)SortTarget;
        request.Serializable = Serializable;
        request.KeysOnly = KeysOnly;
        request.CountOnly = CountOnly;
        request.MinModRevision = MinModRevision;
        request.MaxModRevision = MaxModRevision;
        request.MinCreateRevision = MinCreateRevision;
        request.MaxCreateRevision = MaxCreateRevision;
        return request;
    }
}

/// <summary>Options of a Put (etcdctl put's flags).</summary>
public sealed class PutOptions
{
    /// <summary>Attach the key to this lease; 0: no lease.</summary>
    public long Lease { get; init; }

    /// <summary>Return the key's previous state in <c>prev_kv</c>.</summary>
    public bool PrevKv { get; init; }

    /// <summary>Keep the current value (the value given must be empty); fails when the key does not exist.</summary>
    public bool IgnoreValue { get; init; }

    /// <summary>Keep the current lease (<see cref="Lease"/> must be 0); fails when the key does not exist.</summary>
    public bool IgnoreLease { get; init; }

    internal PutRequest ApplyTo(PutRequest request)
    {
        request.Lease = Lease;
        request.PrevKv = PrevKv;
        request.IgnoreValue = IgnoreValue;
        request.IgnoreLease = IgnoreLease;
        return request;
    }
}

/// <summary>Options of a DeleteRange.</summary>
public sealed class DeleteOptions
{
    /// <summary>Return the deleted keys' last states in <c>prev_kvs</c>.</summary>
    public bool PrevKv { get; init; }
}
