using System.Text;
using Dotcd.Raft.Quorum;

namespace Dotcd.Raft.Tracker;

/// <summary>
/// The membership configuration: voters (possibly joint), learners, and the voters that become
/// learners when the joint configuration is left.
/// Invariants (checked by the Changer): a learner is never a voter of either half; LearnersNext
/// are outgoing voters only and empty when not joint; AutoLeave is false when not joint.
/// </summary>
internal sealed class TrackerConfig
{
    public JointConfig Voters { get; set; } = new();

    /// <summary>Leave the joint configuration automatically once it is committed.</summary>
    public bool AutoLeave { get; set; }

    public SortedSet<ulong> Learners { get; set; } = new();

    /// <summary>
    /// Outgoing voters demoted to learners by the pending change. They cannot be learners yet:
    /// that would make them learners and voters at once while the old config still needs them.
    /// </summary>
    public SortedSet<ulong> LearnersNext { get; set; } = new();

    public TrackerConfig Clone() => new()
    {
        Voters = Voters.Clone(),
        AutoLeave = AutoLeave,
        Learners = new SortedSet<ulong>(Learners),
        LearnersNext = new SortedSet<ulong>(LearnersNext),
    };

    /// <summary>etcd's format: "voters=(1 2)&&(1) learners=(3) learners_next=(4) autoleave"; empty sets are left out.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("voters=").Append(Voters);
        if (Learners.Count > 0)
        {
            sb.Append(" learners=(").AppendJoin(' ', Learners).Append(')');
        }
        if (LearnersNext.Count > 0)
        {
            sb.Append(" learners_next=(").AppendJoin(' ', LearnersNext).Append(')');
        }
        if (AutoLeave)
        {
            sb.Append(" autoleave");
        }
        return sb.ToString();
    }
}
