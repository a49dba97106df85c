#!/usr/bin/env bash
# Watch and lease benchmark: dotcd against a real etcd (3.4.23, /usr/bin/etcd) side by side in
# one run, with bench/Dotcd.WatchLoad (dotcd-watchload) as the client of both. Each run:
#   1. a fresh dotcd and a fresh etcd: memory of 1,000 streams with one watch each;
#   2. a fresh pair: memory of 10,000 watches on 100 streams;
#   3. a fresh pair: watch latency, fan-out and lease keepalive throughput, after one short
#      unmeasured pass of each (dotcd's JIT compiles its hot paths then) and a wait for quiet.
# Fresh servers for the memory phases, so one phase's freed memory cannot hide the next one's.
# Who goes first alternates per run. RUNS runs (default 3); the medians and the ratios
# (ours / etcd) go to the "Watch and lease" section of docs/BENCHMARKS.md, between the
# bench-watch markers (the section is appended if missing; nothing else in the file changes).
#
# Environment: RUNS (3), DURATION (10: seconds per measured latency, fan-out and keepalive run),
# DOTCD (a dotcd executable; default artifacts/bin/dotcd, built by scripts/release.sh if missing),
# ETCD (/usr/bin/etcd), BENCH_ARTIFACTS (artifacts/bench-watch: the tool's build output),
# BENCH_DOC (docs/BENCHMARKS.md; "-" to only print).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

runs=${RUNS:-3}
duration=${DURATION:-10}
art=${BENCH_ARTIFACTS:-artifacts/bench-watch}
etcd=${ETCD:-/usr/bin/etcd}
doc=${BENCH_DOC:-docs/BENCHMARKS.md}
command_line="RUNS=$runs${DURATION:+ DURATION=$DURATION}${DOTCD:+ DOTCD=$DOTCD} bash scripts/bench-watch.sh"
work=$(mktemp -d /tmp/bench-watch.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${DOTCD:-}" ]; then
  dotcd=$DOTCD
else
  dotcd=artifacts/bin/dotcd
  if [ ! -x "$dotcd" ]; then
    echo "bench-watch: no $dotcd; running scripts/release.sh" >&2
    bash scripts/release.sh >&2
  fi
  newer=$(find src -name '*.cs' -newer "$dotcd" -print -quit)
  if [ -n "$newer" ]; then
    echo "bench-watch: warning: $dotcd is older than $newer; run scripts/release.sh (or set DOTCD) to measure the working tree" >&2
  fi
fi
echo "bench-watch: publishing bench/Dotcd.WatchLoad (Release)" >&2
dotnet publish bench/Dotcd.WatchLoad --configuration Release --artifacts-path "$art/build" \
  --output "$art/watchload" --nologo -v quiet >&2
tool=$art/watchload/dotcd-watchload
"$dotcd" --version >/dev/null
etcd_version=$("$etcd" --version | sed -n 's/^etcd Version: //p')

# name | phase | dotcd-watchload arguments (the memory ones get --server-pid).
workloads=(
  "memory-streams|1|--workload memory --watchers 1000 --streams 1000 --clients 10"
  "memory-watchers|2|--workload memory --watchers 10000 --streams 100 --clients 10"
  "watch-latency|3|--workload latency --watchers 100 --clients 10 --rate 500 --val-size 128 --duration $duration"
  "fan-out|3|--workload fanout --watchers 10000 --streams 100 --clients 4 --window 8 --val-size 128 --duration $duration"
  "lease-keepalive|3|--workload keepalive --leases 1000 --streams 10 --clients 2 --window 64 --duration $duration"
)
# Unmeasured passes before a phase (JIT, connection pools): small and short. dotcd's tiered JIT
# needs a few seconds of the latency load: with one second, its first measured run was 3-10x slower.
warmups=(
  "1|--workload memory --watchers 100 --streams 10 --clients 10 --settle-seconds 0"
  "2|--workload memory --watchers 100 --streams 10 --clients 10 --settle-seconds 0"
  "3|--workload latency --watchers 100 --clients 10 --rate 500 --duration 3 --warmup-seconds 0"
  "3|--workload fanout --watchers 1000 --streams 10 --clients 4 --duration 2 --warmup-seconds 0"
  "3|--workload keepalive --leases 100 --streams 10 --clients 2 --duration 1 --warmup-seconds 0"
)

bench_name=bench-watch
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh # The working directory is the repository root (above).

results=$work/results.jsonl
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for run in $(seq "$runs"); do
  if (( run % 2 )); then order=(dotcd etcd); else order=(etcd dotcd); fi
  for phase in 1 2 3; do
    start_member dotcd "$dotcd"; dotcd_pid=$member_pid dotcd_url=$member_url
    start_member etcd "$etcd"; etcd_pid=$member_pid etcd_url=$member_url
    for target in dotcd etcd; do
      if [ "$target" = dotcd ]; then pid=$dotcd_pid url=$dotcd_url; else pid=$etcd_pid url=$etcd_url; fi
      for entry in "${warmups[@]}"; do
        [ "${entry%%|*}" = "$phase" ] || continue
        # shellcheck disable=SC2086 # a word list on purpose
        timeout 120 "$tool" --endpoint "$url" --server-pid "$pid" ${entry#*|} >/dev/null 2>&1 || true
      done
    done
    wait_quiet "$dotcd_pid"
    wait_quiet "$etcd_pid"
    for entry in "${workloads[@]}"; do
      name=${entry%%|*}
      rest=${entry#*|}
      [ "${rest%%|*}" = "$phase" ] || continue
      args=${rest#*|}
      for target in "${order[@]}"; do
        if [ "$target" = dotcd ]; then pid=$dotcd_pid url=$dotcd_url; else pid=$etcd_pid url=$etcd_url; fi
        # shellcheck disable=SC2086 # $args is a word list on purpose
        line=$(timeout 300 "$tool" --endpoint "$url" --server-pid "$pid" --label "$target" $args) || true
        if [ -z "$line" ]; then line='{"errors":-1,"first_error":"dotcd-watchload printed nothing (timeout or crash)"}'; fi
        echo "{\"run\":$run,\"name\":\"$name\",\"target\":\"$target\",\"args\":\"$args\",\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"result\":$line}" >>"$results"
        echo "bench-watch: run $run $name $target: $line" >&2
      done
    done
    stop_member "$dotcd_pid"
    stop_member "$etcd_pid"
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$results" "$doc" "$runs" "$command_line" "$started" "$load_before" "$load_after" "$etcd_version" "$("$dotcd" --version | head -1)" <<'PY'
import json, os, statistics, sys
results, doc, runs, command, started, load_before, load_after, etcd_version, dotcd_version = sys.argv[1:]
rows = [json.loads(l) for l in open(results)]
nan = float("nan")

def good(name, target):
    return [r["result"] for r in rows if r["name"] == name and r["target"] == target and r["result"].get("errors", 0) == 0]

def med(name, target, field):
    values = [r[field] for r in good(name, target) if field in r and r[field] is not None and r[field] >= 0]
    return statistics.median(values) if values else nan

def failures(name, target):
    bad = [r["result"] for r in rows if r["name"] == name and r["target"] == target and r["result"].get("errors", 0) != 0]
    return bad

def ratio(a, b):
    return a / b if b and a == a and b == b else nan

def fmt(v, f):
    return "n/a" if v != v else f.format(v)

def args(name):
    return next((r["args"] for r in rows if r["name"] == name), "")

def loads(name):
    ls = sorted(float(r["load"]) for r in rows if r["name"] == name)
    return f"{ls[0]:.0f}-{ls[-1]:.0f}" if ls else "?"

def fail_note(name):
    notes = []
    for target in ("etcd", "dotcd"):
        bad = failures(name, target)
        if bad:
            notes.append(f"{target}: {len(bad)} of {runs} runs had errors (first: {bad[0].get('first_error', '')[:160]}); "
                         "the medians use the clean runs only" if good(name, target) else
                         f"{target}: every run failed (first: {bad[0].get('first_error', '')[:160]})")
    return notes

def table(name, metrics):
    out = ["| | etcd | dotcd | ours / etcd |", "|---|---:|---:|---:|"]
    for label, field, f in metrics:
        a, b = med(name, "etcd", field), med(name, "dotcd", field)
        out.append(f"| {label} | {fmt(a, f)} | {fmt(b, f)} | {fmt(ratio(b, a), '{:.2f}x')} |")
    return out

# Bytes per watch net of the streams: (delta of 10,000 watches on 100 streams - 100 x bytes per
# stream measured with 1,000 one-watch streams) / 10,000.
def net_per_watcher(target):
    delta = med("memory-watchers", target, "delta_kb") * 1024
    per_stream = med("memory-streams", target, "bytes_per_stream")
    watchers = med("memory-watchers", target, "watchers")
    streams = med("memory-watchers", target, "streams")
    return (delta - streams * per_stream) / watchers if watchers == watchers else nan

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
out = []
out.append(f"Run of {started}: {runs} runs, {os.cpu_count()} cores ({cpu}) shared with other agents' builds and "
           f"tests (noisy: ratios only); load average {load_before} before and {load_after} after (1, 5, 15 min). "
           f"etcd {etcd_version}; {dotcd_version}.")
out.append("")
out.append(f"Command: `{command}`")
out.append("")
lat = ("watch-latency", "p99_ms")
summary = [
    ("watch latency p50 (lower is better)", ratio(med("watch-latency", "dotcd", "p50_ms"), med("watch-latency", "etcd", "p50_ms")), None),
    ("watch latency p99 (target <= 1.00x)", ratio(med("watch-latency", "dotcd", "p99_ms"), med("watch-latency", "etcd", "p99_ms")), lambda r: r <= 1.0),
    ("fan-out events/s (target >= 1.00x)", ratio(med("fan-out", "dotcd", "events_per_sec"), med("fan-out", "etcd", "events_per_sec")), lambda r: r >= 1.0),
    ("memory per stream (target <= 1.00x)", ratio(med("memory-streams", "dotcd", "bytes_per_stream"), med("memory-streams", "etcd", "bytes_per_stream")), lambda r: r <= 1.0),
    ("memory per watch, net of streams (target <= 1.00x)", ratio(net_per_watcher("dotcd"), net_per_watcher("etcd")), lambda r: r <= 1.0),
    ("lease keepalives/s (target >= 1.00x)", ratio(med("lease-keepalive", "dotcd", "keepalives_per_sec"), med("lease-keepalive", "etcd", "keepalives_per_sec")), lambda r: r >= 1.0),
]
out.append("Summary, ours / etcd (medians):")
out.append("")
out.append("| measure | ours / etcd |")
out.append("|---|---:|")
for label, r, ok in summary:
    mark = "" if ok is None or r != r else (" (met)" if ok(r) else " (miss)")
    out.append(f"| {label} | {fmt(r, '{:.2f}x')}{mark} |")
out.append("")

sections = [
    ("watch-latency", "**Watch latency**: 100 watches on one prefix, 10 per client on one shared stream (10 clients, "
     "10 streams, 10 connections), one more client putting 128-byte values under the prefix at 500 puts/s open loop; "
     "latency from the put's send to the event in a watch's reader, over every (put, watch) pair",
     [("event latency p50 (ms)", "p50_ms", "{:.2f}"), ("event latency p99 (ms)", "p99_ms", "{:.2f}"),
      ("event latency max (ms)", "max_ms", "{:.2f}"), ("put latency p50 (ms)", "put_p50_ms", "{:.2f}"),
      ("put latency p99 (ms)", "put_p99_ms", "{:.2f}"), ("puts/s achieved", "put_rate_achieved", "{:,.0f}"),
      ("events delivered", "events", "{:,.0f}")]),
    ("fan-out", "**Fan-out**: 10,000 watches on one key over 100 streams (100 watches each) on 4 connections; puts of "
     "that key with at most 8 not yet delivered to every watch; events delivered per second to all watches",
     [("events/s", "events_per_sec", "{:,.0f}"), ("puts/s (each to 10,000 watches)", "puts_per_sec", "{:.1f}"),
      ("seconds to create the 10,000 watches", "create_seconds", "{:.2f}")]),
    ("memory-streams", "**Memory per stream**: server VmRSS before and after opening 1,000 watch streams with one "
     "watch each (10 connections, opened before the first reading), divided by 1,000; etcd's documentation: about 18 KB",
     [("RSS before (KiB)", "rss_before_kb", "{:,.0f}"), ("RSS after (KiB)", "rss_after_kb", "{:,.0f}"),
      ("bytes per stream (with its watch)", "bytes_per_stream", "{:,.0f}")]),
    ("memory-watchers", "**Memory per watch**: server VmRSS before and after creating 10,000 watches (one key each) on "
     "100 streams over 10 connections; etcd's documentation: about 350 bytes per watching",
     [("RSS before (KiB)", "rss_before_kb", "{:,.0f}"), ("RSS after (KiB)", "rss_after_kb", "{:,.0f}"),
      ("bytes per watch, gross (delta / 10,000)", "bytes_per_watcher", "{:,.0f}")]),
    ("lease-keepalive", "**Lease keepalive**: 1,000 leases (TTL 120 s) renewed round-robin over 10 keepalive streams on "
     "2 connections, at most 64 requests unanswered per stream; keepalive responses per second",
     [("keepalives/s", "keepalives_per_sec", "{:,.0f}")]),
]
for name, caption, metrics in sections:
    out.append(f"{caption} (load average during the runs: {loads(name)}).")
    out.append(f"`dotcd-watchload {args(name)}`")
    out.append("")
    out.extend(table(name, metrics))
    if name == "memory-watchers":
        a, b = net_per_watcher("etcd"), net_per_watcher("dotcd")
        out.append(f"| bytes per watch, net of 100 streams | {fmt(a, '{:,.0f}')} | {fmt(b, '{:,.0f}')} | {fmt(ratio(b, a), '{:.2f}x')} |")
    for note in fail_note(name):
        out.append("")
        out.append(f"Errors: {note}.")
    out.append("")
out.append(f"(medians of {runs} runs; each run starts fresh servers for each memory measurement and once more for "
           "the other three, warmed up by one short unmeasured pass of each workload.)")
block = "\n".join(out)
print(block)
if doc == "-":
    sys.exit(0)
begin, end = "<!-- bench-watch:begin (written by scripts/bench-watch.sh) -->", "<!-- bench-watch:end -->"
text = open(doc).read()
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    text = f"{head}{begin}\n{block}\n{end}{tail}"
else:
    text = text.rstrip("\n") + f"\n\n## Watch and lease: dotcd against etcd (issue #3)\n\n{begin}\n{block}\n{end}\n"
open(doc, "w").write(text)
print(f"bench-watch: wrote {doc}", file=sys.stderr)
PY
