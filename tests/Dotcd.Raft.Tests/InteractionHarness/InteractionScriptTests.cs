namespace Dotcd.Raft.Tests.InteractionHarness;

/// <summary>
/// Runs every script under Interaction/ (one test case per file) against a fresh InteractionEnv.
/// With DOTCD_REWRITE=1 the expected blocks of the source scripts are regenerated instead; review
/// them with git diff before committing, since they are the specification.
/// </summary>
public sealed class InteractionScriptTests
{
    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        foreach (string script in ScriptLocations.Scripts(ScriptLocations.OutputDirectory)) data.Add(script);
        return data;
    }

    [Theory, MemberData(nameof(Scripts))]
    public void ScriptProducesItsExpectedOutput(string script)
    {
        bool rewrite = DataDrivenRunner.RewriteRequested;
        // Rewriting reads and writes the repository's copy; a plain run reads the copy beside the assembly.
        string path = Path.Combine(rewrite ? ScriptLocations.SourceDirectory() : ScriptLocations.OutputDirectory, script);
        string text = File.ReadAllText(path);
        DataDrivenFile file = DataDrivenFile.Parse($"{ScriptLocations.ScriptFolder}/{script}", text);

        var env = new InteractionEnv();
        DataDrivenResult result = DataDrivenRunner.Run(file, env.Handle, rewrite);

        if (result.Failure is not null) Assert.Fail(result.Failure);
        if (rewrite && result.RewrittenText != text) File.WriteAllText(path, result.RewrittenText);
    }
}
