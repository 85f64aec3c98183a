#!/usr/bin/env bash
# Issue 6, 32x on the lent GPU (plan: docs/search-results/plan-s18.md): a mix search at 16384 tokens with 24 pass-key
# prompts, then held-out pass keys (prose seeds 99 and 100, filler seed 99) and perplexity, in one device call:
#   tools/gpu-stage.sh   (here; it also writes the seed, the 16x winner carried to 32x by tools/progressive_init.py)
#   device run, carry [".gpu"]:  bash tools/gpu-search32.sh
# The search is bounded by `search --time-limit` (SEARCH_SECONDS, default 330; the 2026-11-27 run used 400, through
# `timeout` and the best candidate of the log, before --time-limit existed: commit c0e71dd has that version).
# Results: $OUT/summary.txt and $OUT/search32-results.tar.gz, refreshed after each step.
# Dry run on a CPU: LONGROPE_NATIVE_LIB=<CPU libllama folder> LENGTH=1024 PROMPTS=8 SEARCH_SECONDS=20 TRIALS=1 bash tools/gpu-search32.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-/tmp/gpu-out}
r=/tmp/search32-results && rm -rf "$r" && mkdir -p "$r" "$out"
x=.gpu/extra
length=${LENGTH:-16384}; prompts=${PROMPTS:-24}; search_seconds=${SEARCH_SECONDS:-330}; trials=${TRIALS:-5}
data=tests/LongRopeGguf.Search.Tests/Data
save() {
  { cat "$r/steps.txt"; echo; for f in "$r"/search.err "$r"/niah-*/summary.md "$r"/ppl/ppl.md; do
      [[ -f $f ]] && { echo "== $f"; tail -c 4000 "$f"; echo; }; done; } > "$out/summary.txt"
  tar -czf "$out/search32-results.tar.gz" -C /tmp search32-results 2>/dev/null
}
source tools/gpu-common.sh

# --time-limit ends the search normally with its best so far; timeout is only a backstop (a candidate that hangs).
step search $((search_seconds + 120)) $L search models/tiny-passkey-512.gguf -L "$length" --fitness mix --mix-weight 0.3 --windows 1 \
  --text $data/prose-search.txt --passkey-prompts "$prompts" --passkey-passages 8 --passkey-seed 7031 --population 16 --parents 8 \
  --mutations 6 --crossovers 6 --mutation-probability 0.2 --iterations 40 --init $x/carried-mix6-it8-16384.json --out $r/search \
  --time-limit "${search_seconds}s" --json
step patch 30 $L patch models/tiny-passkey-512.gguf --factors $r/search/factors.json -o /tmp/searched-32x-gpu.gguf
step patch-pk6 30 $L patch models/tiny-passkey-512.gguf --factors docs/search-results/tiny-long-16384-pk6.factors.json --context "$length" -o /tmp/pk6-s17.gguf
sets=(--modes yarn --patched searched-32x-gpu=/tmp/searched-32x-gpu.gguf --patched pk6-s17=/tmp/pk6-s17.gguf)
for seed in 99 100; do
  step niah-prose-$seed 90 $L eval niah models/tiny-passkey-512.gguf --lengths "$length" --depths 10 --trials-per-depth "$trials" "${sets[@]}" \
    --haystack $data/prose-heldout.txt --haystack-passages 5 --seed $seed --out $r/niah-prose-$seed
done
step niah-filler-99 60 $L eval niah models/tiny-passkey-512.gguf --lengths "$length" --depths 10 --trials-per-depth "$trials" "${sets[@]}" \
  --seed 99 --out $r/niah-filler-99
step ppl 40 $L eval ppl models/tiny-passkey-512.gguf --text $data/prose-heldout.txt --lengths "$length" --windows 4 "${sets[@]}" --out $r/ppl
echo "total: $((SECONDS - t0)) s" >> "$r/steps.txt"
save
cat "$r/steps.txt"
