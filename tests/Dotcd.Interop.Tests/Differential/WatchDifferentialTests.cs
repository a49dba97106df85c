using System.Text;
using Dotcd.Interop.Tests.Harness;
using Dotcd.Interop.Tests.WatchLease;

namespace Dotcd.Interop.Tests.Differential;

/// <summary>
/// Ring 4 for watch: <see cref="WatchDifferentialScenario"/> against a real etcd and against the
/// candidate, both at once; every etcdctl command's and every watcher's normalized output must be
/// equal. Watch output is compared as its event sequence plus its event-less responses
/// (<see cref="WatchOutput.Events"/>: how events are grouped into responses is the server's
/// choice), and on both sides no revision may span two responses. The etcd row is the harness
/// self-test; the Dotcd row is the real test.
/// </summary>
public sealed class WatchDifferentialTests
{
    [Theory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public Task EveryWatcherPrintsWhatItPrintsAgainstEtcd(MemberKind candidate) =>
        CompareAsync(candidate, "watch-differential", RunAsync);

    /// <summary>
    /// Over a thousand revisions (more than etcd replays in one batch), watched live, replayed
    /// from revision 1 and from the middle with prev_kv, then compacted under the watchers.
    /// </summary>
    [SlowTheory]
    [InlineData(MemberKind.Etcd)]
    [InlineData(MemberKind.Dotcd)]
    public Task ALongHistoryIsFollowedAndReplayedAsOnEtcd(MemberKind candidate) =>
        CompareAsync(candidate, "watch-soak", RunSoakAsync);

    private static async Task CompareAsync(MemberKind candidate, string name, Func<MemberKind, Task<WatchTranscript>> run)
    {
        Task<WatchTranscript> referenceRun = run(MemberKind.Etcd);
        Task<WatchTranscript> candidateRun = run(candidate);
        WatchTranscript expected = await referenceRun;
        WatchTranscript actual = await candidateRun;

        string expectedPath = expected.Save($"{name}-{candidate}-reference");
        string actualPath = actual.Save($"{name}-{candidate}-candidate");
        Assert.True(expected.Unmet.Count == 0, $"the reference run no longer shows what the scenario is for ({expectedPath}):\n\n" + string.Join("\n\n", expected.Unmet));

        var differences = new List<string>();
        for (int i = 0; i < Math.Max(expected.Sections.Count, actual.Sections.Count); i++)
        {
            (string Title, string Body)? left = i < expected.Sections.Count ? expected.Sections[i] : null;
            (string Title, string Body)? right = i < actual.Sections.Count ? actual.Sections[i] : null;
            if (left != right)
            {
                differences.Add($"{(left ?? right)!.Value.Title}\n" + FirstDifference(left?.Body ?? "(missing)", right?.Body ?? "(missing)", expected.Server, actual.Server));
            }
        }

        Assert.True(
            differences.Count == 0,
            $"{differences.Count} of {expected.Sections.Count} sections differ (transcripts: {expectedPath}, {actualPath}):\n\n" +
            string.Join("\n\n", differences.Take(4)));
        Assert.True(actual.Unmet.Count == 0, $"{actual.Server} ({actualPath}):\n\n" + string.Join("\n\n", actual.Unmet));
    }

    // Short bodies whole; long ones (a replay of a thousand events) from a little before the first differing line.
    private static string FirstDifference(string left, string right, string leftServer, string rightServer)
    {
        string[] a = left.Split('\n');
        string[] b = right.Split('\n');
        int first = 0;
        while (first < a.Length && first < b.Length && a[first] == b[first])
        {
            first++;
        }

        bool whole = a.Length + b.Length <= 40;
        int from = whole ? 0 : Math.Max(0, first - 3);
        int take = whole ? Math.Max(a.Length, b.Length) : 8;
        string Excerpt(string[] lines)
        {
            var text = new StringBuilder();
            if (from > 0)
            {
                text.Append($"... ({from} equal lines)\n");
            }

            text.AppendJoin('\n', lines.Skip(from).Take(take));
            if (lines.Length > from + take)
            {
                text.Append($"\n... ({lines.Length - from - take} more lines)");
            }

            return text.ToString();
        }

        return $"--- {leftServer}:\n{Excerpt(a)}\n+++ {rightServer}:\n{Excerpt(b)}";
    }

    private static async Task<WatchTranscript> RunAsync(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        var transcript = new WatchTranscript(member.ToString(), OutputNormalizer.For(member));
        foreach (ScenarioStep step in WatchDifferentialScenario.History)
        {
            await transcript.RunStepAsync(member, step);
        }

        var running = new List<(WatchSpec Spec, EtcdctlProcess Process)>();
        try
        {
            foreach (WatchSpec spec in WatchDifferentialScenario.Watchers)
            {
                EtcdctlProcess process = EtcdctlProcess.Start(member, [.. spec.Args]);
                running.Add((spec, process));
                foreach (string line in spec.Interactive)
                {
                    await process.WriteLineAsync(line);
                }
            }

            // Before the live writes: every watcher has replayed its history, the canceled
            // ones have exited, and the interactive one is synced (its progress answer came).
            foreach ((WatchSpec spec, EtcdctlProcess process) in running)
            {
                if (spec.CanceledAtStart)
                {
                    await transcript.TryAsync(spec, () => process.WaitForExitAsync());
                }
                else if (spec.Interactive.Count > 0)
                {
                    await transcript.TryAsync(spec, () => process.WaitForStdoutAsync(WatchDifferentialScenario.FirstProgress));
                }
                else
                {
                    await transcript.TryAsync(spec, () => WaitForEventsAsync(process, spec.HistoryEvents));
                }
            }

            foreach (ScenarioStep step in WatchDifferentialScenario.Live)
            {
                await transcript.RunStepAsync(member, step);
            }

            foreach ((WatchSpec spec, EtcdctlProcess process) in running.Where(r => !r.Spec.CanceledAtStart))
            {
                await transcript.TryAsync(spec, () => WaitForEventsAsync(process, spec.TotalEvents));
                if (spec.Interactive.Count > 0)
                {
                    await process.WriteLineAsync("progress");
                    await transcript.TryAsync(spec, () => process.WaitForStdoutAsync(WatchDifferentialScenario.FinalProgress));
                }
            }

            foreach ((WatchSpec spec, EtcdctlProcess process) in running)
            {
                transcript.AddWatcher(spec, await process.StopAsync());
            }
        }
        finally
        {
            foreach ((_, EtcdctlProcess process) in running)
            {
                await process.DisposeAsync();
            }
        }

        return transcript;
    }

    // Soak: step i (0-based) makes revision i + 2; every tenth step deletes the key the step
    // before put, every hundredth is a txn of two puts.
    private const int SoakSteps = 1100;
    private const int SoakCompaction = 600;

    private static async Task<WatchTranscript> RunSoakAsync(MemberKind kind)
    {
        using MemberProcess member = await MemberProcess.StartAsync(kind);
        var transcript = new WatchTranscript(member.ToString(), OutputNormalizer.For(member));
        var running = new List<(WatchSpec Spec, EtcdctlProcess Process)>();
        EtcdctlProcess Start(WatchSpec spec)
        {
            EtcdctlProcess process = EtcdctlProcess.Start(member, [.. spec.Args]);
            running.Add((spec, process));
            return process;
        }

        const string Final = "\"value\":\"ZmluYWw=\""; // "final", the last write, in -w json.
        try
        {
            Start(new WatchSpec("live", ["watch", "/s/", "--prefix", "--prev-kv", "--rev", "2", "-w", "json"]));
            for (int i = 0; i < SoakSteps; i++)
            {
                if (i % 100 == 50)
                {
                    await WatchSync.TxnOkAsync(member, [$"put /s/t/{i} a", $"put /s/k{i % 40} t{i}"]);
                }
                else if (i % 10 == 9)
                {
                    await member.Etcdctl.RunOkAsync("del", $"/s/k{(i - 1) % 40}");
                }
                else
                {
                    await member.Etcdctl.RunOkAsync("put", $"/s/k{i % 40}", $"v{i}");
                }
            }

            // Caught up before the compaction (else both servers cancel them, correctly): the
            // prefix replay shows the last step's revision, the key replay /s/k3's last value
            // (step 1083: /s/k3 is never deleted nor in a txn).
            EtcdctlProcess replay = Start(new WatchSpec("replay-from-1", ["watch", "/s/", "--prefix", "--rev", "1", "-w", "json"]));
            await transcript.TryAsync(running[^1].Spec, () => replay.WaitForStdoutAsync($"\"mod_revision\":{SoakSteps + 1}", TimeSpan.FromSeconds(30)));
            EtcdctlProcess key = Start(new WatchSpec("key-from-middle", ["watch", "/s/k3", "--prev-kv", "--rev", "500", "-w", "json"]));
            await transcript.TryAsync(running[^1].Spec, () => key.WaitForStdoutAsync($"\"value\":\"{Convert.ToBase64String(Encoding.UTF8.GetBytes("v1083"))}\"", TimeSpan.FromSeconds(30)));
            await transcript.RunStepAsync(member, new ScenarioStep(["compact", $"{SoakCompaction}"]) { ExpectStdout = $"compacted revision {SoakCompaction}" });
            EtcdctlProcess canceled = Start(new WatchSpec("compacted", ["watch", "/s/", "--prefix", "--rev", "300", "-w", "json"]) { CanceledAtStart = true });
            await transcript.TryAsync(running[^1].Spec, () => canceled.WaitForExitAsync());
            Start(new WatchSpec("from-compaction", ["watch", "/s/", "--prefix", "--prev-kv", "--rev", $"{SoakCompaction}", "-w", "json"]));
            await transcript.RunStepAsync(member, new ScenarioStep(["put", "/s/k3", "final", "-w", "json"]) { ExpectStdout = $"\"revision\":{SoakSteps + 2}" });

            foreach ((WatchSpec spec, EtcdctlProcess process) in running.Where(r => !r.Spec.CanceledAtStart))
            {
                await transcript.TryAsync(spec, () => process.WaitForStdoutAsync(Final, TimeSpan.FromSeconds(30)));
            }

            foreach ((WatchSpec spec, EtcdctlProcess process) in running)
            {
                transcript.AddWatcher(spec, await process.StopAsync());
            }
        }
        finally
        {
            foreach ((_, EtcdctlProcess process) in running)
            {
                await process.DisposeAsync();
            }
        }

        return transcript;
    }

    private static Task WaitForEventsAsync(EtcdctlProcess process, int count) =>
        process.WaitForStdoutAsync(s => WatchOutput.EventKeys(s).Count >= count, $"{count} events");
}

/// <summary>The normalized outputs of one run of the watch scenario, as titled sections in order.</summary>
internal sealed class WatchTranscript(string server, OutputNormalizer normalizer)
{
    private readonly List<(string Title, string Body)> _sections = [];
    private readonly List<string> _unmet = [];
    private readonly StringBuilder _responses = new(); // Each JSON watcher's responses as grouped by the server: saved, not compared.
    private readonly HashSet<string> _stuck = [];      // Watchers whose output stopped short of a wait.

    public string Server { get; } = server;

    public IReadOnlyList<(string Title, string Body)> Sections => _sections;

    /// <summary>What the run failed to show: unmet step expectations, waits that timed out, split revisions.</summary>
    public IReadOnlyList<string> Unmet => _unmet;

    public async Task RunStepAsync(MemberProcess member, ScenarioStep step)
    {
        EtcdctlResult result = await member.Etcdctl.RunAsync([.. step.Args], step.Stdin);
        string stdout = (step.OutputFormat == "json" ? normalizer.Json(result.Stdout, step.Args[0]) : normalizer.Text(result.Stdout)).TrimEnd('\n');
        string stderr = normalizer.Stderr(result.Stderr).TrimEnd('\n');
        _sections.Add((step.Display, $"exit {result.ExitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
        if (result.ExitCode != step.ExpectExit
            || (step.ExpectStdout is { } o && !stdout.Contains(o, StringComparison.Ordinal))
            || (step.ExpectStderr is { } e && !stderr.Contains(e, StringComparison.Ordinal)))
        {
            _unmet.Add($"{step.Display}: expected exit {step.ExpectExit}, stdout with {step.ExpectStdout}, stderr with {step.ExpectStderr}; got exit {result.ExitCode}\n{stdout}\n{stderr}");
        }
    }

    /// <summary>
    /// Runs a wait; a timeout is recorded (the outputs are still compared, and say more), and
    /// the watcher's later waits are skipped so a broken server fails the test quickly.
    /// </summary>
    public async Task TryAsync(WatchSpec spec, Func<Task> wait)
    {
        if (_stuck.Contains(spec.Name))
        {
            return;
        }

        try
        {
            await wait();
        }
        catch (TimeoutException e)
        {
            _stuck.Add(spec.Name);
            _unmet.Add($"watcher {spec.Name}: {e.Message}");
        }
    }

    public void AddWatcher(WatchSpec spec, EtcdctlResult result)
    {
        bool json = spec.Args.Contains("json");
        string stdout = (json ? WatchOutput.Events(result.Stdout, normalizer) : normalizer.Text(result.Stdout)).TrimEnd('\n');
        string stderr = normalizer.Stderr(result.Stderr).TrimEnd('\n');
        string exit = spec.CanceledAtStart ? $"exit {result.ExitCode}" : "stopped";
        _sections.Add(($"watcher {spec.Name}: {spec.Display}", $"{exit}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
        if (json)
        {
            foreach (string violation in WatchOutput.AtomicityViolations(result.Stdout))
            {
                _unmet.Add($"watcher {spec.Name}: {violation}");
            }

            _responses.Append($"# watcher {spec.Name}: responses as printed\n{WatchOutput.Responses(result.Stdout, normalizer)}\n");
        }
    }

    /// <summary>Writes the transcript for a person to read (sections, then raw response grouping); returns the path.</summary>
    public string Save(string name)
    {
        string directory = Path.Combine(Path.GetTempPath(), "dotcd-interop-transcripts");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, name + ".txt");
        File.WriteAllText(
            path,
            $"# {Server}\n\n" + string.Join("\n\n", _sections.Select(s => s.Title + "\n" + s.Body)) + "\n\n" + _responses);
        return path;
    }
}
