#!/usr/bin/env bash
# Issue 6 (plan-s19.md, amendment): the 32x searched files at shorter contexts (llama.cpp runs their long set for every
# context past 512 tokens), against YaRN set for each length, on held-out prose and filler keys, and perplexity.
#   tools/gpu-stage.sh here; device run, carry [".gpu/app.tar.xz", ".gpu/natives"] (it reads nothing else of .gpu):
#   bash tools/gpu-grid32.sh
# Results: $OUT/summary.txt and $OUT/grid32-results.tar.gz, refreshed after each step.
# Dry run on a CPU: LONGROPE_NATIVE_LIB=<CPU libllama folder> LENGTHS=1024 TRIALS=1 bash tools/gpu-grid32.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-/tmp/gpu-out}
r=/tmp/grid32-results && rm -rf "$r" && mkdir -p "$r" "$out"
lengths=${LENGTHS:-1024,2048,4096,8192}; trials=${TRIALS:-5}; seed=${SEED:-103}
data=tests/LongRopeGguf.Search.Tests/Data
save() {
  { cat "$r/steps.txt"; echo; for f in "$r"/*/summary.md "$r"/ppl/ppl.md; do
      [[ -f $f ]] && { echo "== $f"; sed -n '/^| length/,/^$/p' "$f"; echo; }; done; } > "$out/summary.txt"
  tar -czf "$out/grid32-results.tar.gz" -C /tmp grid32-results 2>/dev/null
}
source tools/gpu-common.sh

step patch-margin 30 $L patch models/tiny-passkey-512.gguf --factors docs/search-results/tiny-long-16384-margin.factors.json -o /tmp/margin.gguf
step patch-s18 30 $L patch models/tiny-passkey-512.gguf --factors docs/search-results/tiny-long-16384-gpu-mix24.factors.json -o /tmp/s18.gguf
sets=(--modes yarn --patched margin=/tmp/margin.gguf --patched gpu-mix24-s18=/tmp/s18.gguf)
step niah-prose 100 $L eval niah models/tiny-passkey-512.gguf --lengths "$lengths" --depths 10 --trials-per-depth "$trials" "${sets[@]}" \
  --haystack $data/prose-heldout.txt --haystack-passages 5 --seed "$seed" --out $r/niah-prose
step niah-filler 60 $L eval niah models/tiny-passkey-512.gguf --lengths "$lengths" --depths 10 --trials-per-depth "$trials" "${sets[@]}" \
  --seed "$seed" --out $r/niah-filler
step ppl 40 $L eval ppl models/tiny-passkey-512.gguf --text $data/prose-heldout.txt --lengths "$lengths" --windows 4 "${sets[@]}" --out $r/ppl
echo "total: $((SECONDS - t0)) s" >> "$r/steps.txt"
save
cat "$out/summary.txt"
finish
