namespace Dotcd.Interop.Tests.Harness;

/// <summary>Skip reasons and switches shared by the tests of this project.</summary>
public static class TestSwitches
{
    /// <summary>Skip reason for the dotcd rows that need leases (LeaseGrant and friends answer Unimplemented).</summary>
    public const string DotcdHasNoLeases = "dotcd has no leases yet (issue #3)";

    /// <summary>
    /// Skip reason for reading a dotcd snapshot with etcdctl: `snapshot save` works, but the file
    /// is SQLite and `etcdctl snapshot status` opens it as bbolt ("invalid database").
    /// </summary>
    public const string DotcdSnapshotsAreSqlite = "dotcd snapshots are SQLite files; etcdctl snapshot status needs bbolt (issue #2)";

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
