using Dotcd.Raft;
using Dotcd.Simulation.Checkers;

namespace Dotcd.Simulation.Tests;

// Each invariant checker is fed a fabricated trace that breaks its invariant, and a close one
// that does not: a checker that cannot fail would let every seed pass.
public sealed class CheckerTests
{
    private static Entry E(ulong index, ulong term, string data = "") =>
        new(term, index, EntryType.Normal, System.Text.Encoding.UTF8.GetBytes(data.Length > 0 ? data : $"e{index}.{term}"));

    private static LogView Log(ulong node, ulong commit, params Entry[] entries) => new(node, commit, 0, 0, entries);

    [Fact]
    public void TwoLeadersInOneTermAreCaught()
    {
        var checker = new ElectionSafetyChecker();
        Assert.True(checker.ObserveLeader(term: 4, node: 1, time: 100));
        Assert.True(checker.ObserveLeader(term: 4, node: 1, time: 150)); // the same leader again is fine
        Assert.True(checker.ObserveLeader(term: 5, node: 2, time: 200));
        Assert.False(checker.ObserveLeader(term: 5, node: 3, time: 300));
        Assert.NotNull(checker.Failure);
        Assert.Equal("election safety", checker.Failure!.Invariant);
        Assert.Contains("term 5", checker.Failure.Details);
    }

    [Fact]
    public void TwoDurableVotesInOneTermAreCaught()
    {
        var checker = new ElectionSafetyChecker();
        Assert.True(checker.ObserveDurableVote(node: 2, term: 7, vote: 1, time: 1));
        Assert.True(checker.ObserveDurableVote(node: 2, term: 7, vote: 1, time: 2));
        Assert.True(checker.ObserveDurableVote(node: 2, term: 8, vote: 3, time: 3));
        Assert.False(checker.ObserveDurableVote(node: 2, term: 8, vote: 1, time: 4));
        Assert.Contains("voted for 3 and then for 1 in term 8", checker.Failure!.Details);
    }

    [Fact]
    public void OneLeaderPerTermPasses()
    {
        var checker = new ElectionSafetyChecker();
        for (ulong term = 1; term <= 10; term++) Assert.True(checker.ObserveLeader(term, node: term % 3 + 1, time: (long)term));
        Assert.Null(checker.Failure);
    }

    [Fact]
    public void LogsThatShareAnEntryButDifferBeforeItAreCaught()
    {
        // Both hold (index 3, term 2), but index 2 differs: log matching is broken.
        LogView a = Log(1, commit: 1, E(1, 1), E(2, 1), E(3, 2));
        LogView b = Log(2, commit: 1, E(1, 1), E(2, 2), E(3, 2));
        Violation? v = LogMatchingChecker.Check([a, b], time: 5);
        Assert.NotNull(v);
        Assert.Equal("log matching", v!.Invariant);
        Assert.Contains("index 2", v.Details);
    }

    [Fact]
    public void SameIndexAndTermWithDifferentDataIsCaught()
    {
        LogView a = Log(1, commit: 0, E(1, 1), E(2, 1, "put a=1"));
        LogView b = Log(2, commit: 0, E(1, 1), E(2, 1, "put a=2"));
        Violation? v = LogMatchingChecker.Check([a, b], time: 5);
        Assert.NotNull(v);
        Assert.Contains("different data", v!.Details);
    }

    [Fact]
    public void LogsDifferingInsideTheCommittedPrefixAreCaught()
    {
        // No index with equal terms, yet both claim index 2 committed.
        LogView a = Log(1, commit: 2, E(1, 1), E(2, 2));
        LogView b = Log(2, commit: 2, E(1, 3), E(2, 3));
        Violation? v = LogMatchingChecker.Check([a, b], time: 5);
        Assert.NotNull(v);
        Assert.Contains("committed", v!.Details);
    }

    [Fact]
    public void DivergentUncommittedTailsAndSnapshotsPass()
    {
        // An old leader's uncommitted tail (term 2) against the new leader's (term 3): legal.
        LogView a = Log(1, commit: 2, E(1, 1), E(2, 1), E(3, 2), E(4, 2));
        LogView b = Log(2, commit: 2, E(1, 1), E(2, 1), E(3, 3));
        // A member that compacted up to 2 and holds the same entries after it.
        var c = new LogView(3, 3, SnapshotIndex: 2, SnapshotTerm: 1, [E(3, 3)]);
        Assert.Null(LogMatchingChecker.Check([a, b], time: 5));
        Assert.Null(LogMatchingChecker.Check([b, c], time: 5));
    }

    [Fact]
    public void SnapshotTermThatContradictsACommittedEntryIsCaught()
    {
        LogView a = Log(1, commit: 3, E(1, 1), E(2, 1), E(3, 1));
        var b = new LogView(2, 3, SnapshotIndex: 3, SnapshotTerm: 2, []);
        Assert.NotNull(LogMatchingChecker.Check([a, b], time: 5));
    }

    [Fact]
    public void LeaderMissingAnEntryCommittedInAnEarlierTermIsCaught()
    {
        var checker = new LeaderCompletenessChecker();
        Assert.True(checker.ObserveCommit(E(1, 1), commitTerm: 1, byNode: 1, time: 1));
        Assert.True(checker.ObserveCommit(E(2, 2), commitTerm: 2, byNode: 2, time: 2));
        // A leader of term 3 whose log stops at index 1.
        Assert.False(checker.CheckLeader(term: 3, Log(3, 1, E(1, 1)), time: 3));
        Assert.Equal("leader completeness", checker.Failure!.Invariant);
        Assert.Contains("missing index 2", checker.Failure.Details);
    }

    [Fact]
    public void LeaderHoldingAnotherTermAtACommittedIndexIsCaught()
    {
        var checker = new LeaderCompletenessChecker();
        checker.ObserveCommit(E(1, 1), commitTerm: 1, byNode: 1, time: 1);
        checker.ObserveCommit(E(2, 1), commitTerm: 1, byNode: 1, time: 1);
        Assert.False(checker.CheckLeader(term: 4, Log(2, 1, E(1, 1), E(2, 3), E(3, 3)), time: 3));
        Assert.Contains("index 2", checker.Failure!.Details);
    }

    [Fact]
    public void LeaderCompletenessOnlyCoversEarlierTerms()
    {
        var checker = new LeaderCompletenessChecker();
        checker.ObserveCommit(E(1, 1), commitTerm: 1, byNode: 1, time: 1);
        checker.ObserveCommit(E(2, 5), commitTerm: 5, byNode: 1, time: 2);
        // A stale leader of term 3 need not hold what term 5 committed, but must hold term 1's entry.
        Assert.True(checker.CheckLeader(term: 3, Log(2, 1, E(1, 1)), time: 3));
        // A leader that compacted the committed entry into its snapshot is fine.
        Assert.True(checker.CheckLeader(term: 6, new LogView(3, 2, SnapshotIndex: 1, SnapshotTerm: 1, [E(2, 5)]), time: 4));
        Assert.Null(checker.Failure);
    }

    [Fact]
    public void AnIndexCommittedTwiceWithDifferentEntriesIsCaught()
    {
        var checker = new LeaderCompletenessChecker();
        Assert.True(checker.ObserveCommit(E(7, 2), commitTerm: 2, byNode: 1, time: 1));
        Assert.False(checker.ObserveCommit(E(7, 3), commitTerm: 3, byNode: 2, time: 2));
        Assert.Equal("committed entry changed", checker.Failure!.Invariant);
    }

    [Fact]
    public void MembersApplyingDifferentEntriesAtOneIndexAreCaught()
    {
        var checker = new AppliedOrderChecker();
        ulong h1 = KvStateMachine.Chain(0, E(1, 1));
        ulong h2 = KvStateMachine.Chain(h1, E(2, 1, "put a=1"));
        ulong h2Other = KvStateMachine.Chain(h1, E(2, 1, "put a=2"));
        Assert.True(checker.ObserveApply(node: 1, index: 1, term: 1, h1, time: 1));
        Assert.True(checker.ObserveApply(node: 1, index: 2, term: 1, h2, time: 2));
        Assert.True(checker.ObserveApply(node: 2, index: 1, term: 1, h1, time: 3));
        Assert.False(checker.ObserveApply(node: 2, index: 2, term: 1, h2Other, time: 4));
        Assert.Equal("applied order", checker.Failure!.Invariant);
        Assert.Contains("index 2", checker.Failure.Details);
    }

    [Fact]
    public void AMemberSkippingAnIndexIsCaught()
    {
        var checker = new AppliedOrderChecker();
        Assert.True(checker.ObserveApply(node: 1, index: 1, term: 1, 11, time: 1));
        Assert.False(checker.ObserveApply(node: 1, index: 3, term: 1, 33, time: 2));
        Assert.Contains("right after 1", checker.Failure!.Details);
    }

    [Fact]
    public void ASnapshotWithAnotherHistoryIsCaught()
    {
        var checker = new AppliedOrderChecker();
        checker.ObserveApply(node: 1, index: 1, term: 1, 11, time: 1);
        checker.ObserveApply(node: 1, index: 2, term: 1, 22, time: 2);
        Assert.False(checker.ObservePosition(node: 2, index: 2, chain: 99, fromSnapshot: true, time: 3));
    }

    [Fact]
    public void PrefixesOfOneAppliedSequencePass()
    {
        var checker = new AppliedOrderChecker();
        ulong h = 0;
        var chain = new List<ulong>();
        for (ulong i = 1; i <= 10; i++)
        {
            h = KvStateMachine.Chain(h, E(i, 1));
            chain.Add(h);
        }
        for (ulong i = 1; i <= 10; i++) Assert.True(checker.ObserveApply(1, i, 1, chain[(int)i - 1], (long)i));
        for (ulong i = 1; i <= 4; i++) Assert.True(checker.ObserveApply(2, i, 1, chain[(int)i - 1], (long)i));
        Assert.True(checker.ObservePosition(3, 7, chain[6], fromSnapshot: true, time: 20)); // caught up by snapshot
        Assert.True(checker.ObserveApply(3, 8, 1, chain[7], 21));
        Assert.Null(checker.Failure);
    }
}
