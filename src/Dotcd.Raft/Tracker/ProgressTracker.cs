using Dotcd.Raft.Quorum;

namespace Dotcd.Raft.Tracker;

/// <summary>The leader's (and candidate's) book of the configuration, every member's progress and the votes.</summary>
internal sealed class ProgressTracker
{
    public ProgressTracker(int maxInflight)
    {
        MaxInflight = maxInflight;
    }

    public TrackerConfig Config { get; set; } = new();

    /// <summary>Progress of every voter and learner. Invariant: keys == voters of both halves + learners.</summary>
    public ProgressMap Progress { get; set; } = new();

    /// <summary>Votes received in the current election; the first vote of a member counts.</summary>
    public Dictionary<ulong, bool> Votes { get; } = new();

    public int MaxInflight { get; }

    /// <summary>The configuration as recorded in snapshots, every list ascending.</summary>
    public ConfState ConfState() => new()
    {
        Voters = Config.Voters.Incoming.Sorted(),
        VotersOutgoing = Config.Voters.Outgoing.Sorted(),
        Learners = Config.Learners.ToArray(),
        LearnersNext = Config.LearnersNext.ToArray(),
        AutoLeave = Config.AutoLeave,
    };

    /// <summary>Exactly one voter and not joint: the node can commit on its own.</summary>
    public bool IsSingleton() => Config.Voters.Incoming.Count == 1 && !Config.Voters.IsJoint;

    /// <summary>The largest index the voters have committed, by their Match.</summary>
    public ulong Committed() => Config.Voters.CommittedIndex(Progress);

    /// <summary>Calls f for every member in ascending id order.</summary>
    public void Visit(Action<ulong, Progress> f)
    {
        foreach (ulong id in Progress.SortedIds())
        {
            f(id, Progress[id]);
        }
    }

    /// <summary>The RecentActive voters form a quorum (in both halves when joint).</summary>
    public bool QuorumActive()
    {
        var votes = new Dictionary<ulong, bool>();
        foreach (var (id, pr) in Progress)
        {
            if (!pr.IsLearner)
            {
                votes[id] = pr.RecentActive;
            }
        }
        return Config.Voters.VoteResult(votes) == VoteResult.Won;
    }

    /// <summary>Voters of both halves, ascending.</summary>
    public ulong[] VoterNodes() => Config.Voters.Ids().ToArray();

    public ulong[] LearnerNodes() => Config.Learners.ToArray();

    public void ResetVotes() => Votes.Clear();

    /// <summary>Records a vote; a repeated vote from the same member is ignored.</summary>
    public void RecordVote(ulong id, bool granted) => Votes.TryAdd(id, granted);

    /// <summary>Counts the votes of voters (learners' votes are not counted) and the election result.</summary>
    public (int Granted, int Rejected, VoteResult Result) TallyVotes()
    {
        int granted = 0, rejected = 0;
        foreach (var (id, pr) in Progress)
        {
            if (pr.IsLearner || !Votes.TryGetValue(id, out bool vote))
            {
                continue;
            }
            if (vote)
            {
                granted++;
            }
            else
            {
                rejected++;
            }
        }
        return (granted, rejected, Config.Voters.VoteResult(Votes));
    }
}
