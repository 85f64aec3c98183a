#!/usr/bin/env bash
# Issue 6, 32x on the lent GPU (plan: docs/search-results/plan-s18.md): a mix search at 16384 tokens with 24 pass-key
# prompts, then held-out pass keys (prose seeds 99 and 100, filler seed 99) and perplexity, in one device call:
#   tools/gpu-stage.sh; cp carried-mix6-it8-16384.json .gpu/extra/   (tools/progressive_init.py)
#   device run, carry [".gpu"]:  bash tools/gpu-search32.sh
# The search is bounded (SEARCH_SECONDS, default 330; the 2026-11-27 run used 400); if it is cut, the best candidate
# of its log is written as the factor file. (This is the script as it ran; it predates `search --time-limit`, which now
# does the same inside the tool.) Results: $OUT/summary.txt and $OUT/search32-results.tar.gz, refreshed after each step.
# Dry run on a CPU: LONGROPE_NATIVE_LIB=<CPU libllama folder> LENGTH=1024 PROMPTS=2 SEARCH_SECONDS=60 TRIALS=1 bash tools/gpu-search32.sh
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

step search "$search_seconds" $L search models/tiny-passkey-512.gguf -L "$length" --fitness mix --mix-weight 0.3 --windows 1 \
  --text $data/prose-search.txt --passkey-prompts "$prompts" --passkey-passages 8 --passkey-seed 7031 --population 16 --parents 8 \
  --mutations 6 --crossovers 6 --mutation-probability 0.2 --iterations 40 --init $x/carried-mix6-it8-16384.json --out $r/search --json
if [[ ! -f $r/search/factors.json ]]; then
  # Cut by the time bound: the best candidate so far, in the factor file format `patch` takes.
  python3 - "$r/search/search.jsonl" "$x/carried-mix6-it8-16384.json" "$r/search/factors.json" "$length" <<'PY' >> "$r/steps.txt"
import json, sys
log, init, dst, length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
c = [j for j in map(json.loads, open(log)) if j["type"] == "candidate"]
b = min(c, key=lambda j: j["fitness"])
f = json.load(open(init))
f.update(context_length=length, scale=length / f["original_context_length"], long_factors=b["factors"],
         attention_factor={"policy": "explicit", "value": b["attn_factor"]},
         source=f"search cut by its time bound: best of {len(c)} candidates (serial {b['serial']}), fitness {b['fitness']:.6f}")
json.dump(f, open(dst, "w"), indent=2)
print(f"search cut: {len(c)} candidates in the log, best serial {b['serial']} fitness {b['fitness']:.6f} attn {b['attn_factor']}")
PY
fi
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
