namespace Dotcd.Raft.Tests.Confchange;

// etcd 3.4's raft/confchange/testdata, one script per file, run by ConfChangeScript: each command
// (simple, enter-joint [autoleave=true], leave-joint) takes tokens v<id> (add voter), l<id> (add
// learner), r<id> (remove), u<id> (update) and expects either etcd's error message or the resulting
// config and progress map. Every command, failed or not, raises the changer's LastIndex by one.
public sealed class ConfChangeScriptTests
{
    [Fact]
    public void AutoLeaveIsCarriedIntoTheJointConfig() => ConfChangeScript.Run("""
        # Test the autoleave argument to EnterJoint. It defaults to false in the
        # datadriven tests. The flag has no associated semantics in this package,
        # it is simply passed through.
        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=0

        # Autoleave is reflected in the config.
        enter-joint autoleave=true
        v2 v3
        ----
        voters=(1 2 3)&&(1) autoleave
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1
        3: StateProbe match=0 next=1

        # Can't enter-joint twice, even if autoleave changes.
        enter-joint autoleave=false
        ----
        config is already joint

        leave-joint
        ----
        voters=(1 2 3)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1
        3: StateProbe match=0 next=1
        """);

    [Fact]
    public void EnteringJointIsIdempotentPerNode() => ConfChangeScript.Run("""
        # Verify that operations upon entering the joint state are idempotent, i.e.
        # removing an absent node is fine, etc.

        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=0

        enter-joint
        r1 r2 r9 v2 v3 v4 v2 v3 v4 l2 l2 r4 r4 l1 l1
        ----
        voters=(3)&&(1) learners=(2) learners_next=(1)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1 learner
        3: StateProbe match=0 next=1

        leave-joint
        ----
        voters=(3) learners=(1 2)
        1: StateProbe match=0 next=0 learner
        2: StateProbe match=0 next=1 learner
        3: StateProbe match=0 next=1
        """);

    [Fact]
    public void DemotedVotersWaitInLearnersNextUntilLeavingJoint() => ConfChangeScript.Run("""
        # Verify that when a voter is demoted in a joint config, it will show up in
        # learners_next until the joint config is left, and only then will the progress
        # turn into that of a learner, without resetting the progress. Note that this
        # last fact is verified by `next`, which can tell us which "round" the progress
        # was originally created in.

        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=0

        enter-joint
        v2 l1
        ----
        voters=(2)&&(1) learners_next=(1)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1

        leave-joint
        ----
        voters=(2) learners=(1)
        1: StateProbe match=0 next=0 learner
        2: StateProbe match=0 next=1
        """);

    [Fact]
    public void JointTransitionsAreValidated() => ConfChangeScript.Run("""
        leave-joint
        ----
        can't leave a non-joint config

        enter-joint
        ----
        can't make a zero-voter config joint

        enter-joint
        v1
        ----
        can't make a zero-voter config joint

        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=3

        leave-joint
        ----
        can't leave a non-joint config

        # Can enter into joint config.
        enter-joint
        ----
        voters=(1)&&(1)
        1: StateProbe match=0 next=3

        enter-joint
        ----
        config is already joint

        leave-joint
        ----
        voters=(1)
        1: StateProbe match=0 next=3

        leave-joint
        ----
        can't leave a non-joint config

        # Can enter again, this time with some ops.
        enter-joint
        r1 v2 v3 l4
        ----
        voters=(2 3)&&(1) learners=(4)
        1: StateProbe match=0 next=3
        2: StateProbe match=0 next=9
        3: StateProbe match=0 next=9
        4: StateProbe match=0 next=9 learner

        enter-joint
        ----
        config is already joint

        enter-joint
        v12
        ----
        config is already joint

        simple
        l15
        ----
        can't apply simple config change in joint config

        leave-joint
        ----
        voters=(2 3) learners=(4)
        2: StateProbe match=0 next=9
        3: StateProbe match=0 next=9
        4: StateProbe match=0 next=9 learner

        simple
        l9
        ----
        voters=(2 3) learners=(4 9)
        2: StateProbe match=0 next=9
        3: StateProbe match=0 next=9
        4: StateProbe match=0 next=9 learner
        9: StateProbe match=0 next=14 learner
        """);

    [Fact]
    public void SimpleChangesAreIdempotent() => ConfChangeScript.Run("""
        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=0

        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=0

        simple
        v2
        ----
        voters=(1 2)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=2

        simple
        l1
        ----
        voters=(2) learners=(1)
        1: StateProbe match=0 next=0 learner
        2: StateProbe match=0 next=2

        simple
        l1
        ----
        voters=(2) learners=(1)
        1: StateProbe match=0 next=0 learner
        2: StateProbe match=0 next=2

        simple
        r1
        ----
        voters=(2)
        2: StateProbe match=0 next=2

        simple
        r1
        ----
        voters=(2)
        2: StateProbe match=0 next=2

        simple
        v3
        ----
        voters=(2 3)
        2: StateProbe match=0 next=2
        3: StateProbe match=0 next=7

        simple
        r3
        ----
        voters=(2)
        2: StateProbe match=0 next=2

        simple
        r3
        ----
        voters=(2)
        2: StateProbe match=0 next=2

        simple
        r4
        ----
        voters=(2)
        2: StateProbe match=0 next=2
        """);

    [Fact]
    public void SimpleChangesPromoteAndDemote() => ConfChangeScript.Run("""
        # Set up three voters for this test.

        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=0

        simple
        v2
        ----
        voters=(1 2)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1

        simple
        v3
        ----
        voters=(1 2 3)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1
        3: StateProbe match=0 next=2

        # Can atomically demote and promote without a hitch.
        # This is pointless, but possible.
        simple
        l1 v1
        ----
        voters=(1 2 3)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1
        3: StateProbe match=0 next=2

        # Can demote a voter.
        simple
        l2
        ----
        voters=(1 3) learners=(2)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1 learner
        3: StateProbe match=0 next=2

        # Can atomically promote and demote the same voter.
        # This is pointless, but possible.
        simple
        v2 l2
        ----
        voters=(1 3) learners=(2)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1 learner
        3: StateProbe match=0 next=2

        # Can promote a voter.
        simple
        v2
        ----
        voters=(1 2 3)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1
        3: StateProbe match=0 next=2
        """);

    [Fact]
    public void SimpleChangesChangeAtMostOneVoterAndKeepAVoter() => ConfChangeScript.Run("""
        simple
        l1
        ----
        removed all voters

        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=1

        simple
        v2 l3
        ----
        voters=(1 2) learners=(3)
        1: StateProbe match=0 next=1
        2: StateProbe match=0 next=2
        3: StateProbe match=0 next=2 learner

        simple
        r1 v5
        ----
        more than one voter changed without entering joint config

        simple
        r1 r2
        ----
        removed all voters

        simple
        v3 v4
        ----
        more than one voter changed without entering joint config

        simple
        l1 v5
        ----
        more than one voter changed without entering joint config

        simple
        l1 l2
        ----
        removed all voters

        simple
        l2 l3 l4 l5
        ----
        voters=(1) learners=(2 3 4 5)
        1: StateProbe match=0 next=1
        2: StateProbe match=0 next=2 learner
        3: StateProbe match=0 next=2 learner
        4: StateProbe match=0 next=8 learner
        5: StateProbe match=0 next=8 learner

        simple
        r1
        ----
        removed all voters

        simple
        r2 r3 r4 r5
        ----
        voters=(1)
        1: StateProbe match=0 next=1
        """);

    [Fact]
    public void UpdateNodeChangesNothing() => ConfChangeScript.Run("""
        # Nobody cares about ConfChangeUpdateNode, but at least use it once. It is used
        # by etcd as a convenient way to pass a blob through their conf change machinery
        # that updates information tracked outside of raft.

        simple
        v1
        ----
        voters=(1)
        1: StateProbe match=0 next=0

        simple
        v2 u1
        ----
        voters=(1 2)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1

        simple
        u1 u2 u3 u1 u2 u3
        ----
        voters=(1 2)
        1: StateProbe match=0 next=0
        2: StateProbe match=0 next=1
        """);

    [Fact]
    public void NodeIdZeroIsIgnored() => ConfChangeScript.Run("""
        # NodeID zero is ignored.
        simple
        v1 r0 v0 l0
        ----
        voters=(1)
        1: StateProbe match=0 next=0
        """);
}
