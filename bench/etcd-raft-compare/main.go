// Command etcd-raft-compare measures etcd's own raft library (Debian's golang-etcd-server-dev,
// etcd 3.4) on the workload of Dotcd.Benchmarks' RawNodeProposalBenchmarks, so the two cores
// are compared side by side in one run: a 3-member in-memory cluster of RawNodes driven by one
// loop (persist to MemoryStorage, deliver messages, apply, Advance), 128-byte proposals made in
// batches of B before one round of Ready handling. Reports ns and allocations per proposal.
//
// Build and run (GOPATH mode, no module download):
//   GO111MODULE=off GOPATH=/usr/share/gocode go run bench/etcd-raft-compare/main.go
package main

import (
	"fmt"
	"testing"

	"go.etcd.io/etcd/raft"
	pb "go.etcd.io/etcd/raft/raftpb"
)

type cluster struct {
	nodes    []*raft.RawNode
	storages []*raft.MemoryStorage
	inflight []pb.Message
	applied  uint64
}

func newCluster(members int) *cluster {
	c := &cluster{}
	peers := make([]uint64, members)
	for i := range peers {
		peers[i] = uint64(i + 1)
	}
	for i := 0; i < members; i++ {
		s := raft.NewMemoryStorage()
		// The same start as MemoryStorage.WithPeers: a snapshot whose ConfState names the voters.
		if err := s.ApplySnapshot(pb.Snapshot{Metadata: pb.SnapshotMetadata{
			ConfState: pb.ConfState{Voters: peers}, Index: 1, Term: 1}}); err != nil {
			panic(err)
		}
		rn, err := raft.NewRawNode(&raft.Config{
			ID: peers[i], ElectionTick: 10, HeartbeatTick: 1, Storage: s,
			MaxSizePerMsg: 1024 * 1024, MaxInflightMsgs: 256,
			Logger: discard{},
		})
		if err != nil {
			panic(err)
		}
		c.nodes = append(c.nodes, rn)
		c.storages = append(c.storages, s)
	}
	raft.SetLogger(discard{})
	c.nodes[0].Campaign()
	c.stabilize()
	if c.nodes[0].Status().RaftState != raft.StateLeader {
		panic("node 1 did not become leader")
	}
	return c
}

func (c *cluster) stabilize() {
	for progressed := true; progressed; {
		progressed = false
		for i, n := range c.nodes {
			for n.HasReady() {
				rd := n.Ready()
				s := c.storages[i]
				if !raft.IsEmptySnap(rd.Snapshot) {
					s.ApplySnapshot(rd.Snapshot)
				}
				if !raft.IsEmptyHardState(rd.HardState) {
					s.SetHardState(rd.HardState)
				}
				s.Append(rd.Entries)
				c.inflight = append(c.inflight, rd.Messages...)
				for _, e := range rd.CommittedEntries {
					if e.Type == pb.EntryConfChange {
						var cc pb.ConfChange
						cc.Unmarshal(e.Data)
						n.ApplyConfChange(cc)
					}
					if i == 0 {
						c.applied = e.Index
					}
				}
				n.Advance(rd)
				progressed = true
			}
		}
		for len(c.inflight) > 0 {
			m := c.inflight[0]
			c.inflight = c.inflight[1:]
			c.nodes[m.To-1].Step(m)
			progressed = true
		}
	}
}

type discard struct{}

func (discard) Debug(v ...interface{})                   {}
func (discard) Debugf(format string, v ...interface{})   {}
func (discard) Error(v ...interface{})                   {}
func (discard) Errorf(format string, v ...interface{})   {}
func (discard) Info(v ...interface{})                    {}
func (discard) Infof(format string, v ...interface{})    {}
func (discard) Warning(v ...interface{})                 {}
func (discard) Warningf(format string, v ...interface{}) {}
func (discard) Fatal(v ...interface{})                   { panic(fmt.Sprint(v...)) }
func (discard) Fatalf(format string, v ...interface{})   { panic(fmt.Sprintf(format, v...)) }
func (discard) Panic(v ...interface{})                   { panic(fmt.Sprint(v...)) }
func (discard) Panicf(format string, v ...interface{})   { panic(fmt.Sprintf(format, v...)) }

func main() {
	payload := make([]byte, 128)
	for _, batch := range []int{1, 16, 128} {
		c := newCluster(3)
		r := testing.Benchmark(func(b *testing.B) {
			b.ReportAllocs()
			target := c.applied + uint64(b.N)
			for sent := 0; sent < b.N; sent += batch {
				for j := 0; j < batch && sent+j < b.N; j++ {
					if err := c.nodes[0].Propose(payload); err != nil {
						panic(err)
					}
				}
				c.stabilize()
			}
			if c.applied < target {
				panic("proposals not applied")
			}
		})
		fmt.Printf("etcd-raft BatchSize=%d ns/proposal=%d allocs/proposal=%d bytes/proposal=%d proposals/s=%.0f\n",
			batch, r.NsPerOp(), r.AllocsPerOp(), r.AllocedBytesPerOp(), 1e9/float64(r.NsPerOp()))
	}
}
