namespace Dotcd.Grpc.Tests.Fuzz;

/// <summary>
/// How long the fuzz tests run and from which seeds. Each failure message names its seed and
/// case number; DOTCD_FUZZ_SEED=&lt;seed&gt; replays exactly that seed. DOTCD_SLOW_TESTS=1 runs
/// many more cases per seed.
/// </summary>
public static class FuzzSettings
{
    public static bool Slow => Environment.GetEnvironmentVariable("DOTCD_SLOW_TESTS") == "1";

    /// <summary>The seeds of this run: the replayed one, or a fixed few (so the default run is repeatable).</summary>
    public static TheoryData<int> Seeds()
    {
        string? replay = Environment.GetEnvironmentVariable("DOTCD_FUZZ_SEED");
        return replay is not null ? new TheoryData<int>(int.Parse(replay, System.Globalization.CultureInfo.InvariantCulture)) : new TheoryData<int>(1, 2, 3);
    }

    /// <summary>Cases per seed: <paramref name="quick"/> by default, a hundred times more when slow.</summary>
    public static int Cases(int quick) => Slow ? quick * 100 : quick;
}
