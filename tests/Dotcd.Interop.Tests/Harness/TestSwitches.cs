namespace Dotcd.Interop.Tests.Harness;

/// <summary>Skip reasons and switches shared by the tests of this project.</summary>
public static class TestSwitches
{
    /// <summary>Tests that take about a minute or more run only with DOTCD_SLOW_TESTS=1.</summary>
    public static bool SlowTestsEnabled => Environment.GetEnvironmentVariable("DOTCD_SLOW_TESTS") == "1";

    public const string SlowSkipReason = "slow test: set DOTCD_SLOW_TESTS=1 to run it";
}

/// <summary>A fact that runs only with DOTCD_SLOW_TESTS=1.</summary>
public sealed class SlowFactAttribute : FactAttribute
{
    public SlowFactAttribute()
    {
        if (!TestSwitches.SlowTestsEnabled)
        {
            Skip = TestSwitches.SlowSkipReason;
        }
    }
}

/// <summary>A theory that runs only with DOTCD_SLOW_TESTS=1.</summary>
public sealed class SlowTheoryAttribute : TheoryAttribute
{
    public SlowTheoryAttribute()
    {
        if (!TestSwitches.SlowTestsEnabled)
        {
            Skip = TestSwitches.SlowSkipReason;
        }
    }
}
