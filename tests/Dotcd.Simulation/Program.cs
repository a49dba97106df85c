using System.Diagnostics;
using System.Globalization;

namespace Dotcd.Simulation;

/// <summary>
/// Runs seeds: dotnet run --project tests/Dotcd.Simulation -c Release -- --seeds 1000 --members 3,5
/// Options: --seeds N (default 100), --start S (first seed, default 1), --members list (default 3,5),
/// --ticks N (default 1000), --seed S (replay one seed with a verbose trace).
/// Prints one line per failing seed and ends with "seeds=N failures=F ..."; exit code 1 on failure.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        ulong seeds = 100, start = 1;
        ulong? single = null;
        int ticks = ClusterSimulation.DefaultTicks;
        int[] members = [3, 5];
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--seeds": seeds = ulong.Parse(value, CultureInfo.InvariantCulture); i++; break;
                    case "--start": start = ulong.Parse(value, CultureInfo.InvariantCulture); i++; break;
                    case "--seed": single = ulong.Parse(value, CultureInfo.InvariantCulture); i++; break;
                    case "--ticks": ticks = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                    case "--members":
                        members = value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                        i++;
                        break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine("usage: [--seeds N] [--start S] [--members 3,5] [--ticks N] [--seed S]");
            return 2;
        }

        if (single is { } seed)
        {
            int failed = 0;
            foreach (int m in members)
            {
                SimulationResult r = ClusterSimulation.Create(seed, m, ticks, Console.Out).Run();
                Console.WriteLine($"seed={seed} members={m} {(r.Passed ? "ok" : "FAILED: " + r.Failure)} trace={r.TraceHash:x16}");
                if (!r.Passed) failed++;
            }
            return failed == 0 ? 0 : 1;
        }

        var clock = Stopwatch.StartNew();
        var total = new SimulationStats();
        int runs = 0, failures = 0, linUnknown = 0;
        long maxRecovery = 0;
        foreach (int m in members)
        {
            for (ulong s = start; s < start + seeds; s++)
            {
                SimulationResult r = ClusterSimulation.Create(s, m, ticks).Run();
                runs++;
                total.Add(r.Stats);
                if (r.Stats.Linearizability == "Unknown")
                {
                    // Not a failure, but this run's history was not verified: say which, so it can be looked at.
                    linUnknown++;
                    Console.WriteLine($"UNKNOWN seed={s} members={m}: the linearizability check ran out of budget");
                }
                maxRecovery = Math.Max(maxRecovery, r.Stats.RecoveryTicks);
                if (!r.Passed)
                {
                    failures++;
                    Console.WriteLine($"FAIL seed={s} members={m}: {r.Failure}");
                    Console.WriteLine($"     replay: dotnet run --project tests/Dotcd.Simulation -c Release -- --seed {s} --members {m}" +
                                      (ticks != ClusterSimulation.DefaultTicks ? $" --ticks {ticks}" : ""));
                }
            }
        }
        Console.WriteLine(
            $"seeds={seeds} failures={failures} members={string.Join(",", members)} runs={runs} " +
            $"elapsed={clock.Elapsed.TotalSeconds:F1}s writes={total.Writes} writes_ok={total.WritesOk} writes_unknown={total.WritesUnknown} " +
            $"reads={total.Reads} reads_ok={total.ReadsOk} crashes={total.Crashes} partitions={total.Partitions} " +
            $"snapshots_applied={total.SnapshotsApplied} conf_changes={total.ConfChanges} elections={total.Elections} " +
            $"max_recovery_ticks={maxRecovery} lin_unknown={linUnknown} lin_check={total.CheckMs / 1000:F1}s events={total.Events}");
        return failures == 0 ? 0 : 1;
    }
}
