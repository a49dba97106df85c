# Shared by scripts/bench-kv.sh and scripts/bench-watch.sh (sourced, not run): starting and
# stopping the servers under test with the same flags, and waiting until one is idle.
# The caller sets: work (a scratch dir), pids (an array the caller's exit trap kills),
# bench_name (prefix of messages); DOTCD_ENV (variables for the dotcd process only) is honoured.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_member KIND EXECUTABLE: starts a single-member server, waits until /health answers and
# sets member_pid and member_url. The flags are the same for both; --snapshot-count and --quota-backend-bytes are etcd 3.4's defaults,
# spelled out so neither side can differ.
start_member() {
  local kind=$1 exe=$2 client peer dir extra=()
  if [ "$kind" = dotcd ] && [ -n "${DOTCD_ENV:-}" ]; then read -r -a extra <<<"$DOTCD_ENV"; fi
  client=http://127.0.0.1:$(free_port)
  peer=http://127.0.0.1:$(free_port)
  dir=$work/$kind-$RANDOM
  mkdir -p "$dir"
  env -u ETCD_DATA_DIR "${extra[@]}" "$exe" --name bench --data-dir "$dir/data" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "bench=$peer" \
    --snapshot-count 100000 --quota-backend-bytes 2147483648 \
    >"$dir/stdout.log" 2>"$dir/stderr.log" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 300); do
    if curl -sf "$client/health" >/dev/null 2>&1; then
      member_pid=$pid member_url=$client
      return
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$bench_name: $kind exited at startup; its log:" >&2
      tail -20 "$dir/stderr.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$bench_name: $kind not healthy after 30s" >&2
  exit 1
}

stop_member() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Waits until the process has used less than 30 ms of CPU in a second (at most 30 s): after the
# warmup, dotcd's background JIT finishes its queue here rather than during the first workload.
wait_quiet() {
  local before after
  for _ in $(seq 30); do
    before=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
    sleep 1
    after=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
    if (( (after - before) * 1000 / $(getconf CLK_TCK) < 30 )); then return; fi
  done
}
