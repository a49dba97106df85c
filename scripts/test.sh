#!/usr/bin/env bash
# Runs every test of the repository: installs what the tests need when missing (the real etcd
# and etcdctl 3.4 from Debian, used as the reference by interop and differential tests), then
# runs `dotnet test` over the solution and ends with `N passed, N failed, N skipped`.
# Long soak runs stay out unless DOTCD_SOAK=1.
set -uo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need_pkgs+=(etcd-client)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing ${need_pkgs[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null 2>&1 \
    || echo "warning: could not install ${need_pkgs[*]}; tests that need them fail" >&2
fi

log=$(mktemp)
dotnet test dotcd.slnx -c Release --nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# VSTest prints one summary per test assembly:
#   Passed!  - Failed:     0, Passed:    42, Skipped:     0, Total:    42, Duration: ...
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+, +Skipped: +[0-9]+/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { v = $(i+1); gsub(/,/, "", v); f += v }
      if ($i == "Passed:")  { v = $(i+1); gsub(/,/, "", v); p += v }
      if ($i == "Skipped:") { v = $(i+1); gsub(/,/, "", v); s += v }
    }
  }
  END { printf "%d %d %d\n", p, f, s }' "$log")
rm -f "$log"

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build failed or a test host crashed before it could report: count that as a failure.
  failed=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
