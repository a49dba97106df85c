#!/usr/bin/env bash
# KV load benchmark: dotcd against a real etcd (3.4.23, /usr/bin/etcd) side by side in one run.
# Each run starts a fresh dotcd and a fresh etcd (single member, data dirs under /tmp, free
# loopback ports, the same flags), warms both up with one second of every workload and waits
# until both are idle (dotcd's tiered JIT compiles in the background for its first seconds: that
# is start-up cost, reported in the doc, not throughput), then runs every workload of
# bench/Dotcd.Load against each in turn (who goes first alternates per run) and reads each
# server's peak RSS (VmHWM) after every workload. RUNS runs (default 3); the medians and the ratios (ours / etcd) go to the "KV load"
# section of docs/BENCHMARKS.md, between the bench-kv markers (the section is created if missing).
#
# Environment: RUNS (3), SCALE (1; multiplies every request count, e.g. 0.1 for a smoke test),
# DOTCD (a dotcd executable to use instead of publishing one from src/Dotcd), DOTCD_ENV (variables
# for the dotcd process only, e.g. "DOTNET_GCgen0size=0x400000 DOTNET_TieredPGO=0"), LOAD (a
# dotcd-load executable to use instead of publishing bench/Dotcd.Load), ETCD (/usr/bin/etcd),
# BENCH_ARTIFACTS (artifacts/bench: build output), BENCH_DOC (docs/BENCHMARKS.md; "-" to only print).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

runs=${RUNS:-3}
scale=${SCALE:-1}
art=${BENCH_ARTIFACTS:-artifacts/bench}
etcd=${ETCD:-/usr/bin/etcd}
doc=${BENCH_DOC:-docs/BENCHMARKS.md}
command_line="RUNS=$runs${SCALE:+ SCALE=$SCALE}${DOTCD:+ DOTCD=$DOTCD}${DOTCD_ENV:+ DOTCD_ENV=\"$DOTCD_ENV\"} bash scripts/bench-kv.sh"
work=$(mktemp -d /tmp/bench-kv.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Build: dotcd as scripts/release.sh publishes it (Release, framework-dependent single file), and
# the load tool. Both go under $art so artifacts/bin, release.sh's output, is left alone.
if [ -n "${DOTCD:-}" ]; then
  dotcd=$DOTCD
else
  echo "bench-kv: publishing dotcd (Release)" >&2
  dotnet publish src/Dotcd --configuration Release --use-current-runtime --self-contained false \
    -p:PublishSingleFile=true -p:DebugType=embedded --artifacts-path "$art/build" \
    --output "$art/dotcd" --nologo -v quiet >&2
  dotcd=$art/dotcd/dotcd
fi
if [ -n "${LOAD:-}" ]; then
  load=$LOAD
else
  echo "bench-kv: publishing bench/Dotcd.Load (Release)" >&2
  dotnet publish bench/Dotcd.Load --configuration Release --artifacts-path "$art/build" \
    --output "$art/load" --nologo -v quiet >&2
  load=$art/load/dotcd-load
fi
"$dotcd" --version >/dev/null
etcd_version=$("$etcd" --version | sed -n 's/^etcd Version: //p')

# name | dotcd-load arguments. Request counts are multiplied by SCALE.
workloads=(
  "put-1|--workload put --clients 1 --conns 1 --key-size 8 --val-size 256 --total 2000"
  "put-64|--workload put --clients 64 --conns 8 --key-size 8 --val-size 256 --total 20000"
  "range-linearizable|--workload range-linearizable --clients 64 --conns 8 --key-size 8 --val-size 256 --total 20000"
  "range-serializable|--workload range-serializable --clients 64 --conns 8 --key-size 8 --val-size 256 --total 20000"
  "list-1000x1KiB|--workload list --clients 8 --conns 8 --list-keys 1000 --list-val-size 1024 --total 300"
  "txn-cas|--workload txn-cas --clients 64 --conns 8 --key-space 1000 --val-size 1024 --total 10000"
)

scaled_args() { # $1: arguments; multiplies the number after --total by $scale
  python3 -c 'import sys; a=sys.argv[1].split(); i=a.index("--total"); a[i+1]=str(max(1,int(int(a[i+1])*float(sys.argv[2])))); print(" ".join(a))' "$1" "$scale"
}

bench_name=bench-kv
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh # The working directory is the repository root (above).

proc_kb() { # $1 pid, $2 field (VmHWM, VmRSS)
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

results=$work/results.jsonl
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for run in $(seq "$runs"); do
  start_member dotcd "$dotcd"; dotcd_pid=$member_pid dotcd_url=$member_url
  start_member etcd "$etcd"; etcd_pid=$member_pid etcd_url=$member_url
  for target in dotcd etcd; do
    if [ "$target" = dotcd ]; then pid=$dotcd_pid url=$dotcd_url; else pid=$etcd_pid url=$etcd_url; fi
    echo "{\"run\":$run,\"name\":\"idle\",\"target\":\"$target\",\"hwm_kb\":$(proc_kb "$pid" VmHWM),\"rss_kb\":$(proc_kb "$pid" VmRSS),\"result\":{}}" >>"$results"
    for entry in "${workloads[@]}"; do
      # shellcheck disable=SC2086 # a word list on purpose
      timeout 120 "$load" --endpoints "$url" ${entry#*|} --duration 1 --warmup-seconds 0 >/dev/null || true
    done
  done
  wait_quiet "$dotcd_pid"
  wait_quiet "$etcd_pid"
  if (( run % 2 )); then order=(dotcd etcd); else order=(etcd dotcd); fi
  for entry in "${workloads[@]}"; do
    name=${entry%%|*}
    args=$(scaled_args "${entry#*|}")
    for target in "${order[@]}"; do
      if [ "$target" = dotcd ]; then pid=$dotcd_pid url=$dotcd_url; else pid=$etcd_pid url=$etcd_url; fi
      # shellcheck disable=SC2086 # $args is a word list on purpose
      line=$(timeout 600 "$load" --endpoints "$url" --label "$target" $args) || true
      if [ -z "$line" ]; then line='{"errors":-1,"first_error":"dotcd-load printed nothing"}'; fi
      echo "{\"run\":$run,\"name\":\"$name\",\"target\":\"$target\",\"hwm_kb\":$(proc_kb "$pid" VmHWM),\"rss_kb\":$(proc_kb "$pid" VmRSS),\"result\":$line}" >>"$results"
      echo "bench-kv: run $run $name $target: $line" >&2
    done
  done
  stop_member "$dotcd_pid"
  stop_member "$etcd_pid"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$results" "$doc" "$runs" "$command_line" "$started" "$load_before" "$load_after" "$etcd_version" "$("$dotcd" --version | head -1)" <<'PY'
import json, os, re, statistics, sys
results, doc, runs, command, started, load_before, load_after, etcd_version, dotcd_version = sys.argv[1:]
rows = [json.loads(l) for l in open(results)]
idle = {t: statistics.median(r["rss_kb"] for r in rows if r["name"] == "idle" and r["target"] == t) / 1024 for t in ("dotcd", "etcd")}
rows = [r for r in rows if r["name"] != "idle"]
names = list(dict.fromkeys(r["name"] for r in rows))

def med(name, target, field):
    values = [r["result"].get(field) for r in rows if r["name"] == name and r["target"] == target]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")

def med_top(name, target, field):
    values = [r[field] for r in rows if r["name"] == name and r["target"] == target]
    return statistics.median(values) if values else float("nan")

def total(name, target, field):
    return sum(r["result"].get(field, 0) for r in rows if r["name"] == name and r["target"] == target)

def ratio(a, b):
    return a / b if b else float("nan")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
out = []
out.append(f"Run of {started}: {runs} runs, {os.cpu_count()} cores ({cpu}), shared with other agents' builds "
           f"and tests; load average {load_before} before and {load_after} after (1, 5, 15 min). "
           f"etcd {etcd_version}; {dotcd_version}.")
out.append("")
out.append(f"Command: `{command}`")
out.append("")
out.append("Summary, ours / etcd (medians; throughput target >= 0.80x, peak RSS target <= 1.50x):")
out.append("")
out.append("| workload | throughput | p50 latency | p99 latency | peak RSS (VmHWM) after it | errors (dotcd / etcd) |")
out.append("|---|---:|---:|---:|---:|---:|")
for n in names:
    t = ratio(med(n, "dotcd", "ops_per_sec"), med(n, "etcd", "ops_per_sec"))
    rss = ratio(med_top(n, "dotcd", "hwm_kb"), med_top(n, "etcd", "hwm_kb"))
    mark_t = "" if t >= 0.8 else " (miss)"
    mark_r = "" if rss <= 1.5 else " (miss)"
    out.append(f"| {n} | {t:.2f}x{mark_t} | {ratio(med(n,'dotcd','p50_ms'), med(n,'etcd','p50_ms')):.2f}x | "
               f"{ratio(med(n,'dotcd','p99_ms'), med(n,'etcd','p99_ms')):.2f}x | {rss:.2f}x{mark_r} | "
               f"{total(n,'dotcd','errors')} / {total(n,'etcd','errors')} |")
out.append("")
for n in names:
    sample = next(r["result"] for r in rows if r["name"] == n)
    extra = ""
    if n.startswith("txn"):
        extra = (f"; conflicts retried per run (median): dotcd {med(n,'dotcd','conflicts'):.0f}, "
                 f"etcd {med(n,'etcd','conflicts'):.0f}")
    clients, conns = sample.get("clients"), sample.get("conns")
    out.append(f"**{n}** ({clients} client{'s' if clients != 1 else ''} over {conns} connection{'s' if conns != 1 else ''}, "
               f"{med(n,'dotcd','ops'):.0f} measured operations per run{extra})")
    out.append("")
    out.append("| | dotcd | etcd | ours / etcd |")
    out.append("|---|---:|---:|---:|")
    for label, field, fmt in (("throughput (ops/s)", "ops_per_sec", "{:,.0f}"),
                              ("p50 latency (ms)", "p50_ms", "{:.3f}"),
                              ("p99 latency (ms)", "p99_ms", "{:.3f}")):
        a, b = med(n, "dotcd", field), med(n, "etcd", field)
        out.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio(a, b):.2f}x |")
    a, b = med_top(n, "dotcd", "hwm_kb") / 1024, med_top(n, "etcd", "hwm_kb") / 1024
    out.append(f"| peak RSS after it (MiB) | {a:.1f} | {b:.1f} | {ratio(a, b):.2f}x |")
    a, b = med_top(n, "dotcd", "rss_kb") / 1024, med_top(n, "etcd", "rss_kb") / 1024
    out.append(f"| RSS after it (MiB) | {a:.1f} | {b:.1f} | {ratio(a, b):.2f}x |")
    out.append("")
out.append(f"(medians of {runs} runs. Each server is fresh per run, is warmed up with one second of every "
           "workload until it is idle again, then runs the workloads in the order listed: the peak RSS after a workload is the peak "
           f"so far. RSS right after start, idle: dotcd {idle['dotcd']:.1f} MiB, etcd {idle['etcd']:.1f} MiB, "
           f"{ratio(idle['dotcd'], idle['etcd']):.2f}x.)")
block = "\n".join(out)
print(block)
if doc == "-":
    sys.exit(0)
begin, end = "<!-- bench-kv:begin (written by scripts/bench-kv.sh) -->", "<!-- bench-kv:end -->"
text = open(doc).read()
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    text = f"{head}{begin}\n{block}\n{end}{tail}"
else:
    text = text.rstrip("\n") + f"\n\n## KV load: dotcd against etcd (issue #2)\n\n{begin}\n{block}\n{end}\n"
open(doc, "w").write(text)
print(f"bench-kv: wrote {doc}", file=sys.stderr)
PY
