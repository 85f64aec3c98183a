#!/usr/bin/env bash
# Runs every test of the solution on CPU, after installing what the tests need (gguf-py for cross-checks).
# Usage: tools/test.sh [extra dotnet test arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
LONGROPE_GGUF_PY=$(tools/setup-gguf-py.sh | tail -n 1)
# The chat terminal tests drive `longrope chat` through tmux, as a person at a terminal would.
if ! command -v tmux >/dev/null 2>&1; then
  { apt-get update -qq && apt-get install -y -qq tmux; } >/dev/null 2>&1 \
    || echo "tools/test.sh: warning: could not install tmux; the chat terminal tests will fail" >&2
fi
export LONGROPE_GGUF_PY
log=$(mktemp)
set +e
# Build in parallel, then run the test assemblies one at a time: llama.cpp uses every core, and two model-running
# test hosts at once on a small machine slow each other down many times over.
dotnet build LongRopeGguf.sln -c Release 2>&1 | tail -n 3
dotnet test LongRopeGguf.sln -c Release --no-build -m:1 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The command-line tests once more, against the Native AOT executable that tools/publish.sh builds (the fast build of
# docs/benchmarks.md): no reflection or JIT-only path may break it.
echo "== the CLI tests against the Native AOT build (tools/publish.sh)"
if aot=$(tools/publish.sh "$root/out/aot" | tail -n 1) && [[ -x $aot ]]; then
  LONGROPE_CLI=$aot dotnet test tests/LongRopeGguf.Cli.Tests -c Release --no-build "$@" 2>&1 | tee -a "$log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
  LONGROPE_CLI=$aot dotnet test tests/LongRopeGguf.Runtime.Tests -c Release --no-build \
    --filter "FullyQualifiedName~LongRopeGguf.Runtime.Tests.Cli" "$@" 2>&1 | tee -a "$log"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
else
  echo "tools/test.sh: the Native AOT publish failed" >&2
  status=1
fi
set -e
# One closing line over all test assemblies: "N passed, N failed, N skipped".
awk '/(Passed|Failed)!  *- *Failed:/ {
       for (i = 1; i <= NF; i++) { gsub(",", "", $(i+1)); if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"
