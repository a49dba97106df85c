#!/bin/bash
# Records a real etcd's answers to one scenario of scenario.go, for ../<scenario>.txt.
# Build once: mkdir -p /tmp/probe/src/probe && cp main.go scenario.go /tmp/probe/src/probe/ &&
#   (cd /tmp/probe && GO111MODULE=off GOPATH=/usr/share/gocode:/tmp/probe go build -o probe probe)
# Then: ./run.sh kv > ../kv.txt   (scenarios: kv, txn, edge, sort)
set -e
D=$(mktemp -d)
etcd --name t --data-dir $D --listen-client-urls http://127.0.0.1:23791 --advertise-client-urls http://127.0.0.1:23791 \
  --listen-peer-urls http://127.0.0.1:23801 --initial-advertise-peer-urls http://127.0.0.1:23801 \
  --initial-cluster t=http://127.0.0.1:23801 > $D.log 2>&1 &
PID=$!
for i in $(seq 50); do ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:23791 endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
/tmp/probe/probe 127.0.0.1:23791 $1 2>/dev/null || true
kill $PID; wait $PID 2>/dev/null || true
rm -rf $D $D.log
