#!/usr/bin/env bash
# Session 22's experiment on the bundled tiny model (docs/search-results/plan-s22-bounded.md): at 4x and 8x, the most
# pass keys at no more than the critical-dimension rule's perplexity (`search --max-ppl critical`), then the found
# sets against the rule, YaRN, session 21's w 0.7 sets and (8x) the shipped set on 100 prose keys no search saw (key
# seeds 115 + 116, 5 passages of prose-heldout.txt) and the perplexity of that text. Results: docs/search.md
# ("Keys subject to the rule's perplexity").
#
# Usage: tools/search-bounded.sh [OUT]      (default out/search-bounded)
# About 1.5 hours on 2 CPU cores (the 8x search ~32 min, the 4x one 15 min, the held-out runs ~15 min). Every step
# resumes: the searches from their logs, the evaluations skip recorded trials. QUICK=1 runs every step with tiny
# settings (a few minutes: it checks the script, its numbers mean nothing).
set -euo pipefail
case ${1:-} in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "tools/search-bounded.sh: unknown option '$1' (usage: tools/search-bounded.sh [OUT])" >&2; exit 2 ;;
esac
# A relative OUT is the caller's (resolved before the cd below); the default lies in the repository's ignored out/.
case ${1:-} in ''|/*) ;; *) set -- "$PWD/$1" "${@:2}" ;; esac
[ $# -le 1 ] || { echo "$0: one OUT folder at most, got $#" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-out/search-bounded}
mkdir -p "$out"
M=models/tiny-passkey-512.gguf
T=tests/LongRopeGguf.Search.Tests/Data/prose-search.txt
H=tests/LongRopeGguf.Search.Tests/Data/prose-heldout.txt
R=docs/search-results
threads=${THREADS:-$(nproc)}

dotnet build src/LongRopeGguf.Cli -c Release 2>&1 | tail -n 2
longrope() { dotnet run --project src/LongRopeGguf.Cli -c Release --no-build -- "$@"; }

if [ "${QUICK:-0}" = 1 ]; then
  evolution=(--population 5 --parents 2 --mutations 1 --crossovers 1 --iterations 1)
  prompts8=2 prompts4=2 windows=1 trials=1 limit8=5m limit4=5m
else
  evolution=(--population 12 --parents 6 --mutations 4 --crossovers 4 --iterations 12)
  prompts8=12 prompts4=24 windows=2 trials=5 limit8=35m limit4=15m
fi

bounded() { # NAME LENGTH PROMPTS KEY_SEED INIT LIMIT: the plan's search, its best set into $out/NAME/factors.json
  longrope search "$M" -L "$2" --fitness passkey --passkey-loss margin --max-ppl critical --windows "$windows" --text "$T" \
    --passkey-prompts "$3" --passkey-passages "$(( $3 < 6 ? $3 : 6 ))" --passkey-seed "$4" "${evolution[@]}" --init "$5" \
    --time-limit "$6" --threads "$threads" --out "$out/$1" --json > "$out/$1.json"
}
bounded search-8x-bounded 4096 "$prompts8" 7071 "$R/s21-search/search-8x-w07.factors.json" "$limit8"
bounded search-4x-bounded 2048 "$prompts4" 7073 "$R/s21-search/search-4x-w07.factors.json" "$limit4"

heldout() { # LENGTH SCALE NAME=FILE...: 100 prose keys (seeds 115, 116), eval compare against the rule and YaRN, perplexity
  local length=$1 scale=$2; shift 2
  longrope factors make --model "$M" --method critical --scale "$scale" -o "$out/critical-${scale}x.json" > /dev/null
  local modes=(--modes yarn --patched critical="$out/critical-${scale}x.json")
  for p in "$@"; do modes+=(--patched "$p"); done
  for seed in 115 116; do
    longrope eval niah "$M" --lengths "$length" --depths 10 --trials-per-depth "$trials" "${modes[@]}" --haystack "$H" \
      --haystack-passages 5 --seed "$seed" --threads "$threads" --out "$out/heldout/niah-$length-$seed"
  done
  for baseline in critical yarn; do
    longrope eval compare "$out"/heldout/niah-"$length"-11[56] --baseline "$baseline" > "$out/heldout/compare-$length-$baseline.md"
  done
  longrope eval ppl "$M" "${modes[@]}" --text "$H" --lengths "$length" --windows 4 --threads "$threads" --out "$out/heldout/ppl-$length"
}
heldout 4096 8 shipped=models/tiny-passkey-512.longrope-4096.json w07="$R/s21-search/search-8x-w07.factors.json" \
  bounded="$out/search-8x-bounded/factors.json"
heldout 2048 4 w07="$R/s21-search/search-4x-w07.factors.json" bounded="$out/search-4x-bounded/factors.json"
echo "results: $out/heldout/compare-{4096,2048}-{critical,yarn}.md, $out/heldout/ppl-{4096,2048}/ppl.md, $out/search-*-bounded.json"
