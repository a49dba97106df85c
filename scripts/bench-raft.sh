#!/usr/bin/env bash
# Side-by-side benchmark of the Raft cores: Dotcd.Raft (BenchmarkDotNet, RawNodeProposalBenchmarks)
# and etcd 3.4's raft library (bench/etcd-raft-compare, Go) on the same workload, same machine,
# same run. Each side runs RUNS times (default 3); the medians and the ratios (ours / etcd) are
# printed as the markdown table docs/BENCHMARKS.md quotes.
# Needs: golang-go and golang-etcd-server-dev (apt-get install -y golang-go golang-etcd-server-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
out=$(mktemp -d)

GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" \
  go build -o "$out/etcd-raft-compare" bench/etcd-raft-compare/main.go
dotnet build -c Release bench/Dotcd.Benchmarks --nologo -v q >/dev/null

for i in $(seq "$runs"); do
  "$out/etcd-raft-compare" > "$out/go-$i.txt"
  dotnet run -c Release --no-build --project bench/Dotcd.Benchmarks -- \
    --filter '*RawNodeProposal*' --job short --memory > "$out/cs-$i.txt" 2>&1
done

python3 - "$out" "$runs" <<'PY'
import re, statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
def unit_us(s):
    v, u = s.replace(',', '').split()
    return float(v) * {'ns': 1e-3, 'us': 1, 'μs': 1, 'ms': 1e3}[u]
def unit_bytes(s):
    v, u = s.replace(',', '').split()
    return float(v) * {'B': 1, 'KB': 1024, 'MB': 1024 * 1024}[u]
go, cs = {}, {}
for i in range(1, runs + 1):
    for line in open(f"{out}/go-{i}.txt"):
        m = re.search(r"BatchSize=(\d+) ns/proposal=(\d+) allocs/proposal=(\d+) bytes/proposal=(\d+)", line)
        if m:
            go.setdefault(int(m[1]), []).append((int(m[2]) / 1000, int(m[4])))
    for line in open(f"{out}/cs-{i}.txt"):
        cols = [c.strip() for c in line.split('|')]
        if len(cols) > 3 and cols[1] == 'ProposeCommitApply':
            # | Method | BatchSize | Mean | Error | StdDev | Median | Gen0 | ... | Allocated |
            cs.setdefault(int(cols[2]), []).append((unit_us(cols[3]), unit_bytes(cols[-2])))
print("| batch | dotcd proposals/s | etcd raft proposals/s | throughput ratio (ours/etcd) | dotcd bytes/proposal | etcd bytes/proposal | bytes ratio |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for b in sorted(cs):
    c_us = statistics.median(x[0] for x in cs[b]); g_us = statistics.median(x[0] for x in go[b])
    c_b = statistics.median(x[1] for x in cs[b]); g_b = statistics.median(x[1] for x in go[b])
    print(f"| {b} | {1e6/c_us:,.0f} | {1e6/g_us:,.0f} | {g_us/c_us:.2f}x | {c_b:,.0f} | {g_b:,.0f} | {c_b/g_b:.2f}x |")
print(f"\n(medians of {runs} runs each)")
PY
rm -rf "$out"
