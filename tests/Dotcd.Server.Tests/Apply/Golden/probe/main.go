// Records etcd's answers to a fixed KV scenario as "kind<TAB>request hex<TAB>normalized answer".
package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/clientv3"
	pb "go.etcd.io/etcd/etcdserver/etcdserverpb"
	"go.etcd.io/etcd/mvcc/mvccpb"
	"google.golang.org/grpc/status"
)

var kv pb.KVClient
var lc pb.LeaseClient
var ctx = context.Background()

func q(b []byte) string { return fmt.Sprintf("%q", string(b)) }

func fkv(k *mvccpb.KeyValue) string {
	return fmt.Sprintf("%s=%s@%d/%d/%d/%d", q(k.Key), q(k.Value), k.CreateRevision, k.ModRevision, k.Version, k.Lease)
}

func fkvs(kvs []*mvccpb.KeyValue) string {
	s := make([]string, len(kvs))
	for i, k := range kvs {
		s[i] = fkv(k)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func hrev(h *pb.ResponseHeader) int64 {
	if h == nil {
		return -1
	}
	return h.Revision
}

func fmtRange(r *pb.RangeResponse) string {
	return fmt.Sprintf("range rev=%d count=%d more=%v kvs=%s", hrev(r.Header), r.Count, r.More, fkvs(r.Kvs))
}
func fmtPut(r *pb.PutResponse) string {
	p := "none"
	if r.PrevKv != nil {
		p = fkv(r.PrevKv)
	}
	return fmt.Sprintf("put rev=%d prev=%s", hrev(r.Header), p)
}
func fmtDel(r *pb.DeleteRangeResponse) string {
	return fmt.Sprintf("del rev=%d deleted=%d prev=%s", hrev(r.Header), r.Deleted, fkvs(r.PrevKvs))
}
func fmtTxn(r *pb.TxnResponse) string {
	s := make([]string, len(r.Responses))
	for i, op := range r.Responses {
		switch v := op.Response.(type) {
		case *pb.ResponseOp_ResponseRange:
			s[i] = fmtRange(v.ResponseRange)
		case *pb.ResponseOp_ResponsePut:
			s[i] = fmtPut(v.ResponsePut)
		case *pb.ResponseOp_ResponseDeleteRange:
			s[i] = fmtDel(v.ResponseDeleteRange)
		case *pb.ResponseOp_ResponseTxn:
			s[i] = fmtTxn(v.ResponseTxn)
		default:
			s[i] = "nil"
		}
	}
	return fmt.Sprintf("txn rev=%d succeeded=%v {%s}", hrev(r.Header), r.Succeeded, strings.Join(s, "; "))
}

func emit(kind string, req interface{ Marshal() ([]byte, error) }, answer string, err error) {
	b, _ := req.Marshal()
	if err != nil {
		st, _ := status.FromError(err)
		answer = fmt.Sprintf("error %d %s", st.Code(), st.Message())
	}
	fmt.Printf("%s\t%s\t%s\n", kind, hex.EncodeToString(b), answer)
}

func rng(r *pb.RangeRequest) {
	resp, err := kv.Range(ctx, r)
	a := ""
	if err == nil {
		a = fmtRange(resp)
	}
	emit("range", r, a, err)
}
func put(r *pb.PutRequest) {
	resp, err := kv.Put(ctx, r)
	a := ""
	if err == nil {
		a = fmtPut(resp)
	}
	emit("put", r, a, err)
}
func del(r *pb.DeleteRangeRequest) {
	resp, err := kv.DeleteRange(ctx, r)
	a := ""
	if err == nil {
		a = fmtDel(resp)
	}
	emit("del", r, a, err)
}
func txn(r *pb.TxnRequest) {
	resp, err := kv.Txn(ctx, r)
	a := ""
	if err == nil {
		a = fmtTxn(resp)
	}
	emit("txn", r, a, err)
}
func compact(r *pb.CompactionRequest) {
	resp, err := kv.Compact(ctx, r)
	a := ""
	if err == nil {
		a = fmt.Sprintf("compact rev=%d", hrev(resp.Header))
	}
	emit("compact", r, a, err)
}
func grant(id int64) {
	r := &pb.LeaseGrantRequest{ID: id, TTL: 100000}
	_, err := lc.LeaseGrant(ctx, r)
	emit("lease", r, "granted", err)
}

func B(s string) []byte { return []byte(s) }

func opPut(k, v string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestPut{RequestPut: &pb.PutRequest{Key: B(k), Value: B(v)}}}
}
func opRange(k, end string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: B(k), RangeEnd: B(end)}}}
}
func opDel(k, end string) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: &pb.DeleteRangeRequest{Key: B(k), RangeEnd: B(end)}}}
}
func opTxn(t *pb.TxnRequest) *pb.RequestOp {
	return &pb.RequestOp{Request: &pb.RequestOp_RequestTxn{RequestTxn: t}}
}
func cmpMod(k string, res pb.Compare_CompareResult, rev int64) *pb.Compare {
	return &pb.Compare{Key: B(k), Target: pb.Compare_MOD, Result: res, TargetUnion: &pb.Compare_ModRevision{ModRevision: rev}}
}
func cmpVer(k string, res pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: B(k), Target: pb.Compare_VERSION, Result: res, TargetUnion: &pb.Compare_Version{Version: v}}
}
func cmpCreate(k string, res pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: B(k), Target: pb.Compare_CREATE, Result: res, TargetUnion: &pb.Compare_CreateRevision{CreateRevision: v}}
}
func cmpVal(k string, res pb.Compare_CompareResult, v string) *pb.Compare {
	return &pb.Compare{Key: B(k), Target: pb.Compare_VALUE, Result: res, TargetUnion: &pb.Compare_Value{Value: B(v)}}
}
func cmpLease(k string, res pb.Compare_CompareResult, v int64) *pb.Compare {
	return &pb.Compare{Key: B(k), Target: pb.Compare_LEASE, Result: res, TargetUnion: &pb.Compare_Lease{Lease: v}}
}

func main() {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{os.Args[1]}, DialTimeout: 3 * time.Second})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	kv = pb.NewKVClient(c.ActiveConnection())
	lc = pb.NewLeaseClient(c.ActiveConnection())
	scenario(os.Args[2])
}
