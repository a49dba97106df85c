using Dotcd.Api.Etcdserverpb;

namespace Dotcd.Client;

/// <summary>How a compare relates the key's field to the given operand.</summary>
public enum CompareOperator
{
    Equal = 0,
    Greater = 1,
    Less = 2,
    NotEqual = 3,
}

/// <summary>The conditions of a transaction: a key's value, version, create or mod revision, or lease.</summary>
public static class Compares
{
    public static Compare Value(string key, CompareOperator op, string value) => Value(KeyRange.Utf8(key), op, KeyRange.Utf8(value));

    public static Compare Value(ReadOnlySpan<byte> key, CompareOperator op, ReadOnlySpan<byte> value) =>
        new() { Key = KeyRange.Bytes(key), Result = (Compare.Types.CompareResult)op, Target = Compare.Types.CompareTarget.Value, Value = KeyRange.Bytes(value) };

    /// <summary>The key's version: 0 when it does not exist, 1 on create, +1 per put.</summary>
    public static Compare Version(string key, CompareOperator op, long version) => Version(KeyRange.Utf8(key), op, version);

    public static Compare Version(ReadOnlySpan<byte> key, CompareOperator op, long version) =>
        new() { Key = KeyRange.Bytes(key), Result = (Compare.Types.CompareResult)op, Target = Compare.Types.CompareTarget.Version, Version = version };

    /// <summary>The revision that created the key; 0 when it does not exist.</summary>
    public static Compare CreateRevision(string key, CompareOperator op, long revision) => CreateRevision(KeyRange.Utf8(key), op, revision);

    public static Compare CreateRevision(ReadOnlySpan<byte> key, CompareOperator op, long revision) =>
        new() { Key = KeyRange.Bytes(key), Result = (Compare.Types.CompareResult)op, Target = Compare.Types.CompareTarget.Create, CreateRevision = revision };

    /// <summary>The revision of the key's last change; 0 when it does not exist (Kubernetes' create check).</summary>
    public static Compare ModRevision(string key, CompareOperator op, long revision) => ModRevision(KeyRange.Utf8(key), op, revision);

    public static Compare ModRevision(ReadOnlySpan<byte> key, CompareOperator op, long revision) =>
        new() { Key = KeyRange.Bytes(key), Result = (Compare.Types.CompareResult)op, Target = Compare.Types.CompareTarget.Mod, ModRevision = revision };

    /// <summary>The lease the key is attached to; 0 for none.</summary>
    public static Compare Lease(string key, CompareOperator op, long lease) => Lease(KeyRange.Utf8(key), op, lease);

    public static Compare Lease(ReadOnlySpan<byte> key, CompareOperator op, long lease) =>
        new() { Key = KeyRange.Bytes(key), Result = (Compare.Types.CompareResult)op, Target = Compare.Types.CompareTarget.Lease, Lease = lease };

    /// <summary>Makes the compare hold for every key in [key, rangeEnd) instead of the one key.</summary>
    public static Compare WithRangeEnd(this Compare compare, ReadOnlySpan<byte> rangeEnd)
    {
        compare.RangeEnd = KeyRange.Bytes(rangeEnd);
        return compare;
    }

    /// <summary>Makes the compare hold for every key starting with its key.</summary>
    public static Compare WithPrefix(this Compare compare)
    {
        byte[] prefix = compare.Key.ToByteArray();
        compare.Key = KeyRange.StartOf(prefix);
        compare.RangeEnd = KeyRange.Bytes(KeyRange.PrefixEnd(prefix));
        return compare;
    }
}
