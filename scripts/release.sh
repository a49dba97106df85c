#!/usr/bin/env bash
# Release build of the three executables: `dotnet publish` in Release, framework-dependent
# (they need the .NET runtime installed, as the SDK provides), one single file each for
# this machine's runtime identifier. Leaves artifacts/bin/dotcd, artifacts/bin/dotcdctl and
# artifacts/bin/dotcdutl, which run from there (`artifacts/bin/dotcd --version`).
# Intermediate files go to artifacts/build, so src/ stays clean. Works offline once the
# NuGet packages are restorable, and every run replaces the previous result (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

bin=artifacts/bin
rm -rf "$bin"
mkdir -p "$bin"

# project directory -> executable it produces (the csproj's AssemblyName)
projects=("src/Dotcd:dotcd" "src/Dotcd.Ctl:dotcdctl" "src/Dotcd.Utl:dotcdutl")
for entry in "${projects[@]}"; do
  project=${entry%%:*}
  name=${entry##*:}
  echo "publishing $name" >&2
  # Native libraries (none yet; SQLite's later) stay beside the single file, which finds them there.
  dotnet publish "$project" \
    --configuration Release \
    --use-current-runtime \
    --self-contained false \
    -p:PublishSingleFile=true \
    -p:DebugType=embedded \
    --artifacts-path artifacts/build \
    --output "$bin" \
    --nologo \
    -v quiet
  if [ ! -x "$bin/$name" ]; then
    echo "release: $project did not produce $bin/$name" >&2
    exit 1
  fi
done

# Prove each one starts from where it was left.
for name in dotcd dotcdctl dotcdutl; do
  "$bin/$name" --version >/dev/null
done
ls -l "$bin"
