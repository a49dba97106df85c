namespace Dotcd.Raft.Tests.InteractionHarness;

// The script format and its rewrite, without any Raft: these run even when the core misbehaves.
public sealed class DataDrivenFileTests
{
    [Fact]
    public void CommandLineSplitsKeysValuesAndParenthesizedLists()
    {
        (string command, IReadOnlyList<DirectiveArg> args) =
            DataDrivenFile.ParseCommandLine("add-nodes 3 voters=(1, 2,3) index=10 content= nested=(a(b,c), d) v1=true");

        Assert.Equal("add-nodes", command);
        Assert.Equal(["3", "voters", "index", "content", "nested", "v1"], args.Select(a => a.Key));
        Assert.Empty(args[0].Values);
        Assert.Equal(["1", "2", "3"], args[1].Values);
        Assert.Equal(["10"], args[2].Values);
        Assert.Equal([""], args[3].Values);
        Assert.Equal(["a(b,c)", "d"], args[4].Values);
        Assert.Equal("add-nodes 3 voters=(1, 2, 3) index=10 content= nested=(a(b,c), d) v1=true",
            $"{command} {string.Join(" ", args)}");
    }

    [Fact]
    public void UnclosedParenthesisIsReportedWithFileLineAndColumn()
    {
        const string text = "# setup\n\nadd-nodes 3 voters=(1,2\n----\nok\n";

        var e = Assert.Throws<DataDrivenFormatException>(() => DataDrivenFile.Parse("x.txt", text));

        Assert.Contains("x.txt:3:", e.Message);
        Assert.Contains("column 20", e.Message);
    }

    [Fact]
    public void DirectivesCarryInputExpectedOutputAndLineNumbers()
    {
        const string text =
            "# comment\n" +
            "log-level none\n" +
            "----\n" +
            "ok\n" +
            "\n" +
            "  # indented comment\n" +
            "propose-conf-change 1 \\\n" +
            "  transition=explicit\n" +
            "v2 l3\n" +
            "----\n" +
            "line one\n" +
            "line two\n";

        DataDrivenFile file = DataDrivenFile.Parse("s.txt", text);

        Assert.Equal(2, file.Directives.Count);
        Directive first = file.Directives[0];
        Assert.Equal(("log-level", 2, "ok\n", ""), (first.Command, first.Line, first.Expected, first.Input));
        Directive second = file.Directives[1];
        Assert.Equal("propose-conf-change", second.Command);
        Assert.Equal(7, second.Line);
        Assert.Equal("s.txt:7", second.Position);
        Assert.Equal(["1", "transition"], second.Args.Select(a => a.Key));
        Assert.Equal("v2 l3", second.Input);
        Assert.Equal("line one\nline two\n", second.Expected);
    }

    [Fact]
    public void DoubleSeparatorHoldsOutputWithBlankLines()
    {
        const string text = "stabilize\n----\n----\na\n\nb\n----\n----\n\nstatus 1\n----\nok\n";

        DataDrivenFile file = DataDrivenFile.Parse("d.txt", text);

        Assert.Equal("a\n\nb\n", file.Directives[0].Expected);
        Assert.Equal("ok\n", file.Directives[1].Expected);
        Assert.Equal(10, file.Directives[1].Line);
    }

    [Fact]
    public void CommandWithoutSeparatorIsReportedWithItsLine()
    {
        const string text = "campaign 1\n----\nok\n\nstabilize\n";

        var e = Assert.Throws<DataDrivenFormatException>(() => DataDrivenFile.Parse("m.txt", text));

        Assert.StartsWith("m.txt:5:", e.Message);
    }

    [Fact]
    public void RewriteWithSameOutputsReproducesTheFileExactly()
    {
        const string text =
            "# header\n\nadd-nodes 1\n----\nok\n\n# between\nstabilize\n----\n----\nx\n\ny\n----\n----\n\n" +
            "status 1\ninput\n----\n1: StateProbe match=0 next=1\n\n# trailing comment\n";
        DataDrivenFile file = DataDrivenFile.Parse("r.txt", text);

        string rewritten = file.Rewrite(file.Directives.Select(d => d.Expected).ToList());

        Assert.Equal(text, rewritten);
    }

    [Fact]
    public void RewriteReplacesOnlyExpectedBlocksAndSwitchesFormWhenNeeded()
    {
        const string text =
            "# keep me\n" +
            "campaign 1\n" +
            "----\n" +
            "stale\n" +
            "stale too\n" +
            "\n" +
            "stabilize\n" +
            "----\n" +
            "----\n" +
            "old\n" +
            "\n" +
            "old\n" +
            "----\n" +
            "----\n" +
            "\n" +
            "status 1\n" +
            "----\n";
        DataDrivenFile file = DataDrivenFile.Parse("w.txt", text);

        string rewritten = file.Rewrite(["ok", "no blank lines now\n", "first\n\nsecond\n"]);

        Assert.Equal(
            "# keep me\n" +
            "campaign 1\n" +
            "----\n" +
            "ok\n" +
            "\n" +
            "stabilize\n" +
            "----\n" +
            "no blank lines now\n" +
            "\n" +
            "status 1\n" +
            "----\n" +
            "----\n" +
            "first\n" +
            "\n" +
            "second\n" +
            "----\n" +
            "----\n",
            rewritten);
        // The rewritten file parses back to the new outputs.
        Assert.Equal(["ok\n", "no blank lines now\n", "first\n\nsecond\n"],
            DataDrivenFile.Parse("w.txt", rewritten).Directives.Select(d => d.Expected));
    }

    [Fact]
    public void MismatchNamesFileAndLineAndShowsADiff()
    {
        const string text = "echo a\n----\na\n\necho b\n----\none\ntwo\nthree\n";
        DataDrivenFile file = DataDrivenFile.Parse("e.txt", text);

        DataDrivenResult result = DataDrivenRunner.Run(file, d => d.Args[0].Key == "a" ? "a" : "one\n2\nthree\n", rewrite: false);

        Assert.NotNull(result.Failure);
        Assert.StartsWith("e.txt:5: echo b\n", result.Failure);
        Assert.Contains("@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n", result.Failure);
    }

    [Fact]
    public void HandlerExceptionFailsEvenWhenRewriting()
    {
        DataDrivenFile file = DataDrivenFile.Parse("t.txt", "boom\n----\nok\n");

        DataDrivenResult result = DataDrivenRunner.Run(file, _ => throw new InvalidOperationException("kaput"), rewrite: true);

        Assert.Null(result.RewrittenText);
        Assert.StartsWith("t.txt:1: boom\nthrew System.InvalidOperationException: kaput", result.Failure);
    }

    [Fact]
    public void UnifiedDiffIsEmptyForEqualTextAndKeepsHunksApart()
    {
        Assert.Equal("", LineDiff.Unified("a\nb\n", "a\nb\n"));

        string expected = string.Join("\n", Enumerable.Range(1, 20)) + "\n";
        string actual = expected.Replace("\n2\n", "\nX\n").Replace("\n19\n", "\nY\n");
        string diff = LineDiff.Unified(expected, actual, context: 1);

        Assert.Equal("@@ -1,3 +1,3 @@\n 1\n-2\n+X\n 3\n@@ -18,3 +18,3 @@\n 18\n-19\n+Y\n 20\n", diff);
    }
}
