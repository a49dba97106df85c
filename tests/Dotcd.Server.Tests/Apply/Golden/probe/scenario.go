package main

import (
	"fmt"

	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
)

var (
	EQ = pb.Compare_EQUAL
	GT = pb.Compare_GREATER
	LT = pb.Compare_LESS
	NE = pb.Compare_NOT_EQUAL
)

func scenario(name string) {
	switch name {
	case "kv":
		kvScenario()
	case "txn":
		txnScenario()
	case "edge":
		edgeScenario()
	case "sort":
		sortScenario()
	}
}

func kvScenario() {
	rng(&pb.RangeRequest{Key: B("foo")})
	rng(&pb.RangeRequest{})
	put(&pb.PutRequest{Value: B("x")})
	put(&pb.PutRequest{Key: B("foo"), Value: B("bar")})
	put(&pb.PutRequest{Key: B("foo"), Value: B("baz"), PrevKv: true})
	put(&pb.PutRequest{Key: B("foo"), IgnoreValue: true, PrevKv: true})
	put(&pb.PutRequest{Key: B("missing"), IgnoreValue: true})
	put(&pb.PutRequest{Key: B("missing"), IgnoreLease: true})
	put(&pb.PutRequest{Key: B("foo"), Value: B("x"), IgnoreValue: true})
	put(&pb.PutRequest{Key: B("foo"), Lease: 5, IgnoreLease: true})
	put(&pb.PutRequest{Key: B("foo"), Value: B("y"), Lease: 999})
	grant(100)
	put(&pb.PutRequest{Key: B("foo"), Value: B("z"), Lease: 100})
	put(&pb.PutRequest{Key: B("foo"), Value: B("w"), IgnoreLease: true, PrevKv: true})
	put(&pb.PutRequest{Key: B("foo"), IgnoreValue: true, IgnoreLease: true})
	rng(&pb.RangeRequest{Key: B("foo")})
	for i, k := range []string{"a", "b", "b/1", "b/2", "b/3", "c"} {
		put(&pb.PutRequest{Key: B(k), Value: B(fmt.Sprintf("v%d", 5-i))})
	}
	put(&pb.PutRequest{Key: B("b/2"), Value: B("v9")})
	rng(&pb.RangeRequest{Key: B("b/"), RangeEnd: B("b0")})
	rng(&pb.RangeRequest{Key: B("b/"), RangeEnd: B("b0"), Limit: 2})
	rng(&pb.RangeRequest{Key: B("b/"), RangeEnd: B("b0"), Limit: 3})
	rng(&pb.RangeRequest{Key: B("b/"), RangeEnd: B("b0"), Limit: 5})
	rng(&pb.RangeRequest{Key: B("b"), RangeEnd: []byte{0}})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true, Limit: 2})
	rng(&pb.RangeRequest{Key: B("b/"), RangeEnd: B("b0"), KeysOnly: true})
	rng(&pb.RangeRequest{Key: B("c"), RangeEnd: B("a")})
	rng(&pb.RangeRequest{Key: B("b"), RangeEnd: B("b")})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_VALUE})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_ASCEND, SortTarget: pb.RangeRequest_VALUE, Limit: 3})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_KEY, Limit: 2})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_ASCEND, SortTarget: pb.RangeRequest_KEY, Limit: 2})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortTarget: pb.RangeRequest_MOD, Limit: 3})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortTarget: pb.RangeRequest_VERSION})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_CREATE})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_MOD, Limit: 4})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MinModRevision: 10, Limit: 2})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MaxModRevision: 10, Limit: 2})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MinCreateRevision: 11, MaxCreateRevision: 13})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, MinModRevision: 100})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 9})
	rng(&pb.RangeRequest{Key: B("foo"), Revision: 3})
	rng(&pb.RangeRequest{Key: B("foo"), Revision: 100})
	rng(&pb.RangeRequest{Key: B("foo"), Revision: -5})
	del(&pb.DeleteRangeRequest{Key: B("b/1"), PrevKv: true})
	del(&pb.DeleteRangeRequest{Key: B("b/"), RangeEnd: B("b0"), PrevKv: true})
	del(&pb.DeleteRangeRequest{Key: B("b/"), RangeEnd: B("b0")})
	del(&pb.DeleteRangeRequest{Key: B("nothing")})
	del(&pb.DeleteRangeRequest{})
	del(&pb.DeleteRangeRequest{Key: B("c"), RangeEnd: B("a")})
	put(&pb.PutRequest{Key: B("b/1"), Value: B("again")})
	rng(&pb.RangeRequest{Key: B("b/1")})
	compact(&pb.CompactionRequest{Revision: 12})
	compact(&pb.CompactionRequest{Revision: 12})
	compact(&pb.CompactionRequest{Revision: 11})
	compact(&pb.CompactionRequest{Revision: 1000})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 11})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 12})
	compact(&pb.CompactionRequest{Revision: 14, Physical: true})
	del(&pb.DeleteRangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, PrevKv: true})
	rng(&pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
}

func txnScenario() {
	put(&pb.PutRequest{Key: B("k"), Value: B("1")})
	put(&pb.PutRequest{Key: B("k"), Value: B("2")})
	put(&pb.PutRequest{Key: B("m"), Value: B("abc")})
	// Kubernetes create, update, delete shapes.
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpMod("/registry/pods/ns/p", EQ, 0)}, Success: []*pb.RequestOp{opPut("/registry/pods/ns/p", "v1")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpMod("/registry/pods/ns/p", EQ, 0)}, Success: []*pb.RequestOp{opPut("/registry/pods/ns/p", "v1")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpMod("/registry/pods/ns/p", EQ, 5)}, Success: []*pb.RequestOp{opPut("/registry/pods/ns/p", "v2")}, Failure: []*pb.RequestOp{opRange("/registry/pods/ns/p", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpMod("/registry/pods/ns/p", EQ, 4)}, Success: []*pb.RequestOp{opPut("/registry/pods/ns/p", "v2")}, Failure: []*pb.RequestOp{opRange("/registry/pods/ns/p", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpMod("/registry/pods/ns/p", EQ, 4)}, Success: []*pb.RequestOp{opDel("/registry/pods/ns/p", "")}, Failure: []*pb.RequestOp{opRange("/registry/pods/ns/p", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpMod("/registry/pods/ns/p", EQ, 5)}, Success: []*pb.RequestOp{opDel("/registry/pods/ns/p", "")}, Failure: []*pb.RequestOp{opRange("/registry/pods/ns/p", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpVer("compact_rev_key", EQ, 0)}, Success: []*pb.RequestOp{opPut("compact_rev_key", "6")}, Failure: []*pb.RequestOp{opRange("compact_rev_key", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpVer("compact_rev_key", EQ, 0)}, Success: []*pb.RequestOp{opPut("compact_rev_key", "7")}, Failure: []*pb.RequestOp{opRange("compact_rev_key", "")}})
	// Compare targets and results.
	for _, c := range []*pb.Compare{
		cmpVal("m", EQ, "abc"), cmpVal("m", GT, "abb"), cmpVal("m", LT, "abd"), cmpVal("m", NE, "abc"), cmpVal("missing", EQ, ""), cmpVal("missing", NE, "x"),
		cmpVer("k", EQ, 2), cmpVer("k", GT, 1), cmpVer("k", LT, 2), cmpVer("missing", EQ, 0), cmpVer("missing", LT, 1),
		cmpCreate("k", EQ, 2), cmpCreate("k", GT, 2), cmpCreate("missing", EQ, 0),
		cmpMod("k", EQ, 3), cmpMod("k", LT, 4), cmpMod("k", NE, 3),
		cmpLease("k", EQ, 0), cmpLease("k", GT, 0), cmpLease("missing", EQ, 0),
		{Key: B("k"), Target: pb.Compare_VERSION, Result: EQ},
		{Key: B("k"), Target: pb.Compare_MOD, Result: GT, TargetUnion: &pb.Compare_Version{Version: 1}},
		{Key: B("k"), Target: pb.Compare_VALUE, Result: EQ, TargetUnion: &pb.Compare_Version{Version: 1}},
		{Key: B("a"), RangeEnd: B("z"), Target: pb.Compare_VERSION, Result: GT, TargetUnion: &pb.Compare_Version{Version: 0}},
		{Key: B("a"), RangeEnd: B("z"), Target: pb.Compare_VERSION, Result: EQ, TargetUnion: &pb.Compare_Version{Version: 2}},
		{Key: B("x"), RangeEnd: B("z"), Target: pb.Compare_VERSION, Result: EQ, TargetUnion: &pb.Compare_Version{Version: 0}},
		{Key: B("x"), RangeEnd: B("z"), Target: pb.Compare_VALUE, Result: EQ, TargetUnion: &pb.Compare_Value{Value: B("")}},
		{Key: B("k"), RangeEnd: []byte{0}, Target: pb.Compare_MOD, Result: GT, TargetUnion: &pb.Compare_ModRevision{ModRevision: 1}},
	} {
		txn(&pb.TxnRequest{Compare: []*pb.Compare{c}, Success: []*pb.RequestOp{opRange("k", "")}, Failure: []*pb.RequestOp{opRange("m", "")}})
	}
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpVal("m", EQ, "abc"), cmpVer("k", EQ, 99)}, Success: []*pb.RequestOp{opRange("k", "")}})
	// Ops in order, one revision for all, ranges see earlier writes.
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opRange("t1", ""), opPut("t1", "a"), opRange("t1", ""), opPut("t2", "b"), opDel("k", ""), opRange("\x00", "\x00"), opDel("nothing", "")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("nothing", ""), opPut("t3", "c"), opDel("nothing2", "")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("nothing", ""), opRange("t1", "")}})
	txn(&pb.TxnRequest{})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpVer("k", EQ, 99)}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("ignored", "x")}, Failure: []*pb.RequestOp{opRange("t1", "")}, Compare: []*pb.Compare{cmpVer("t1", EQ, 7)}})
	// Nested txns.
	inner := &pb.TxnRequest{Compare: []*pb.Compare{cmpVal("t1", EQ, "a")}, Success: []*pb.RequestOp{opPut("n1", "x"), opRange("n1", "")}, Failure: []*pb.RequestOp{opPut("n2", "y")}}
	inner2 := &pb.TxnRequest{Compare: []*pb.Compare{cmpVal("t1", EQ, "zzz")}, Success: []*pb.RequestOp{opPut("n3", "x")}, Failure: []*pb.RequestOp{opRange("t2", "")}}
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opRange("t1", ""), opTxn(inner), opTxn(inner2), opRange("n", "o")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opRange("n1", "")}})}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpVer("t1", EQ, 1)}, Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("deep", "1")}})}})}})
	// Validation.
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("d", "1"), opPut("d", "2")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("d", "1")}, Failure: []*pb.RequestOp{opPut("d", "2")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("d/1", "1"), opDel("d/", "d0")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("d/", "d0"), opPut("d/1", "1")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("d/", "\x00"), opPut("d/1", "1")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("d/5", "d/1"), opPut("d/3", "1")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("d", ""), opDel("d", ""), opRange("d", ""), opRange("d", "")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "1"), opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "2")}})}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "2")}, Failure: []*pb.RequestOp{opPut("e", "3")}})}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "2")}}), opTxn(&pb.TxnRequest{Failure: []*pb.RequestOp{opPut("e", "3")}})}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("e", "f")}}), opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "3")}})}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "3")}}), opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("e", "f")}})}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("e", "f"), opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "3")}})}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("e", "3"), opTxn(&pb.TxnRequest{Success: []*pb.RequestOp{opDel("e", "f")}})}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{{}}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("", "1")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opRange("", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: nil}}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: B("iv"), Value: B("1"), IgnoreValue: true}}}}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: B("iv"), IgnoreValue: true}}}}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{cmpVer("k", EQ, 99)}, Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: B("iv"), IgnoreValue: true}}}}, Failure: []*pb.RequestOp{opRange("t1", "")}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: B("iv"), Value: B("1"), Lease: 77}}}}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: B("t1"), Revision: 1000}}}}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("zz", "1"), {Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: B("t1"), Revision: 1000}}}}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: B("t1"), Revision: 3}}}}})
	many := make([]*pb.RequestOp, 129)
	for i := range many {
		many[i] = opPut(fmt.Sprintf("many%03d", i), "x")
	}
	txn(&pb.TxnRequest{Success: many})
	txn(&pb.TxnRequest{Success: many[:128]})
	manyCmp := make([]*pb.Compare, 129)
	for i := range manyCmp {
		manyCmp[i] = cmpVer("k", GT, -1)
	}
	txn(&pb.TxnRequest{Compare: manyCmp})
	txn(&pb.TxnRequest{Compare: manyCmp[:100], Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: many[:29]})}})
	txn(&pb.TxnRequest{Compare: manyCmp[:100], Success: []*pb.RequestOp{opTxn(&pb.TxnRequest{Success: many[:28]})}})
	compact(&pb.CompactionRequest{Revision: 8})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: B("t1"), Revision: 7}}}}})
	txn(&pb.TxnRequest{Success: []*pb.RequestOp{opPut("zz", "2"), {Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: B("k"), Revision: 8}}}}})
}

func edgeScenario() {
	put(&pb.PutRequest{Key: B("a"), Value: B("1")})
	put(&pb.PutRequest{Key: B("b"), Value: B("2")})
	rng(&pb.RangeRequest{Key: B("a"), RangeEnd: B("z"), SortOrder: pb.RangeRequest_SortOrder(7), Limit: 1})
	rng(&pb.RangeRequest{Key: B("a"), RangeEnd: B("z"), SortOrder: pb.RangeRequest_SortOrder(7), SortTarget: pb.RangeRequest_VALUE})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: B("a"), Target: pb.Compare_CompareTarget(9), Result: EQ}}, Success: []*pb.RequestOp{opRange("a", "")}, Failure: []*pb.RequestOp{opRange("b", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: B("a"), Target: pb.Compare_VERSION, Result: pb.Compare_CompareResult(9), TargetUnion: &pb.Compare_Version{Version: 5}}}, Success: []*pb.RequestOp{opRange("a", "")}, Failure: []*pb.RequestOp{opRange("b", "")}})
	txn(&pb.TxnRequest{Compare: []*pb.Compare{{Key: B("a"), Target: pb.Compare_CompareTarget(9), Result: GT}}, Success: []*pb.RequestOp{opRange("a", "")}, Failure: []*pb.RequestOp{opRange("b", "")}})
	// An unknown sort target with an order crashes etcd 3.4 (nil sorter); not recorded.
}

// Many equal sort values: the order of ties comes from Go's sort algorithm.
func sortScenario() {
	ops := make([]*pb.RequestOp, 40)
	for i := range ops {
		ops[i] = opPut(fmt.Sprintf("s%02d", (i*17)%40), fmt.Sprintf("v%d", i%3))
	}
	txn(&pb.TxnRequest{Success: ops})
	for i := 0; i < 40; i += 3 {
		put(&pb.PutRequest{Key: B(fmt.Sprintf("s%02d", i)), Value: B(fmt.Sprintf("v%d", i%4))})
	}
	txn(&pb.TxnRequest{Success: ops[:25]})
	for _, t := range []pb.RangeRequest_SortTarget{pb.RangeRequest_KEY, pb.RangeRequest_VERSION, pb.RangeRequest_CREATE, pb.RangeRequest_MOD, pb.RangeRequest_VALUE} {
		for _, o := range []pb.RangeRequest_SortOrder{pb.RangeRequest_NONE, pb.RangeRequest_ASCEND, pb.RangeRequest_DESCEND} {
			rng(&pb.RangeRequest{Key: B("s"), RangeEnd: B("t"), SortOrder: o, SortTarget: t, KeysOnly: true})
			rng(&pb.RangeRequest{Key: B("s"), RangeEnd: B("t"), SortOrder: o, SortTarget: t, Limit: 15, KeysOnly: true})
		}
	}
}
