using Dotcd.Simulation.Linearizability;

namespace Dotcd.Simulation.Tests.Linearizability;

/// <summary>Writes hand-made key-value histories tersely: one line per call, with its client,
/// call tick and return tick (null: never returned).</summary>
internal sealed class KvHistoryBuilder
{
    private readonly List<Operation<KvInput, KvOutput>> _ops = [];

    public IReadOnlyList<Operation<KvInput, KvOutput>> Ops => _ops;

    public KvHistoryBuilder Put(int client, long call, long? ret, string key, long value) =>
        Add(client, call, ret, KvInput.Put(key, value), KvOutput.Done);

    public KvHistoryBuilder Get(int client, long call, long ret, string key, long? value) =>
        Add(client, call, ret, KvInput.Get(key), KvOutput.Read(value is { } v ? v : KvValue.Absent));

    public KvHistoryBuilder Delete(int client, long call, long? ret, string key, bool? deleted) =>
        Add(client, call, ret, KvInput.Delete(key), deleted is { } d ? KvOutput.Deleted(d) : KvOutput.Done);

    public KvHistoryBuilder Cas(int client, long call, long? ret, string key, long? expected, long value, bool? swapped) =>
        Add(client, call, ret, KvInput.Cas(key, expected is { } e ? e : KvValue.Absent, value),
            swapped is { } s ? KvOutput.Swapped(s) : KvOutput.Unknown);

    private KvHistoryBuilder Add(int client, long call, long? ret, KvInput input, KvOutput output)
    {
        // A call that never returned has, by definition, an unknown outcome.
        KvOutput recorded = ret is null ? KvOutput.Unknown : output;
        _ops.Add(new Operation<KvInput, KvOutput>(client, input, call, recorded, ret ?? Operation.NeverReturned));
        return this;
    }

    public CheckResult<KvInput, KvOutput> Check(CheckOptions? options = null) =>
        LinearizabilityChecker.Check(KvModel.Instance, _ops, options);
}
