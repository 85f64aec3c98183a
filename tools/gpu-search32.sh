#!/usr/bin/env bash
# Issue 6, 32x on the lent GPU: a search at 16384 tokens with 24 pass-key prompts, then held-out pass keys (prose and
# filler, seeds the search never saw) and perplexity, in one device call:
#   tools/gpu-stage.sh   (here; it also writes the seed, the 16x winner carried to 32x by tools/progressive_init.py)
#   device run, carry [".gpu"]:  bash tools/gpu-search32.sh
# Defaults: the session-18 run (docs/search-results/plan-s18.md). Its search was bounded at 400 s through `timeout`
# and the best candidate of the log, before --time-limit existed: commit c0e71dd has that version.
# The session-19 run (docs/search-results/plan-s19.md), with the margin loss:
#   SEARCH_SECONDS=380 LOSS=margin MIX_WEIGHT=0.5 WINDOWS=1 PASSKEY_SEED=7041 ITERATIONS=100 \
#   INIT=docs/search-results/tiny-long-16384-gpu-mix24.factors.json NAME=searched-32x-margin \
#   OTHER=gpu-mix24-s18=docs/search-results/tiny-long-16384-gpu-mix24.factors.json PROSE_SEEDS="101 102" FILLER_SEED=101 bash tools/gpu-search32.sh
# (That run also passed `--workers 4`, after a 45-s speed probe with 1 and 4 workers: several candidates evaluated at
# once in one process, removed afterwards because LLamaSharp serializes every llama_decode of a process, so it cannot
# be faster; the values, the search and its result are the same without it. Commit c52f069 has that version.)
# DEPTHS (--passkey-depths centered|ends) and BATCH (--batch-size) default to what the earlier runs used.
# FITNESS (mix, or passkey) and MAX_PPL (--max-ppl: a number or a seed such as yarn; default none) make a bounded
# search, e.g. the most prose keys at no more than YaRN's perplexity (session 22's recipe, docs/search-results/plan-s22-bounded.md):
#   FITNESS=passkey LOSS=margin MAX_PPL=yarn WINDOWS=1 PASSKEY_SEED=7081 PROSE_SEEDS="117 118" FILLER_SEED=117 bash tools/gpu-search32.sh
# (WINDOWS=1: the search text holds one window of 16384 tokens; 2 is refused, as in session 19.)
# Results: $OUT/summary.txt and $OUT/search32-results.tar.gz, refreshed after each step.
# Dry run on a CPU: LONGROPE_NATIVE_LIB=<CPU libllama folder> LENGTH=1024 PROMPTS=8 SEARCH_SECONDS=20 TRIALS=1 bash tools/gpu-search32.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-/tmp/gpu-out}
x=.gpu/extra
length=${LENGTH:-16384}; prompts=${PROMPTS:-24}; search_seconds=${SEARCH_SECONDS:-330}; trials=${TRIALS:-5}
loss=${LOSS:-nll}; mix=${MIX_WEIGHT:-0.3}; windows=${WINDOWS:-1}; pk_seed=${PASSKEY_SEED:-7031}; iterations=${ITERATIONS:-40}
init=${INIT:-$x/carried-mix6-it8-16384.json}
name=${NAME:-searched-32x-gpu}; other=${OTHER:-pk6-s17=docs/search-results/tiny-long-16384-pk6.factors.json}
[[ $other == *=* ]] || { echo "OTHER=$other: expected NAME=FACTOR-FILE" >&2; exit 2; }
prose_seeds=${PROSE_SEEDS:-99 100}; filler_seed=${FILLER_SEED:-99}; depths=${DEPTHS:-centered}; batch=${BATCH:-512}
fitness=${FITNESS:-mix}; bound=(); [[ -n ${MAX_PPL:-} ]] && bound=(--max-ppl "$MAX_PPL")
# The mix weight weighs the two parts of the mix fitness only, and the windows measure perplexity for ppl, mix or a
# --max-ppl bound: search refuses them otherwise (FITNESS=passkey with the weight was refused at once).
weighted=(); [[ $fitness == mix ]] && weighted=(--mix-weight "$mix")
windowed=(--windows "$windows"); [[ $fitness == passkey && -z ${MAX_PPL:-} ]] && windowed=()
data=tests/LongRopeGguf.Search.Tests/Data
save() {
  { cat "$r/steps.txt"; echo; for f in "$r"/search.err "$r"/niah-*/summary.md "$r"/ppl/ppl.md; do
      [[ -f $f ]] && { echo "== $f"; tail -c 4000 "$f"; echo; }; done; } > "$out/summary.txt"
  tar -czf "$out/search32-results.tar.gz" -C /tmp search32-results 2>/dev/null
}
search=(search models/tiny-passkey-512.gguf -L "$length" --fitness "$fitness" "${weighted[@]}" "${bound[@]}" --passkey-loss "$loss" --passkey-depths "$depths" "${windowed[@]}"
  --text $data/prose-search.txt --passkey-prompts "$prompts" --passkey-passages 8 --passkey-seed "$pk_seed" --population 16 --parents 8
  --mutations 6 --crossovers 6 --mutation-probability 0.2 --iterations "$iterations" --init "$init" --batch-size "$batch" --json)
# PRINT_SEARCH=1: print the search's arguments, one per line, and stop (a test checks them against the CLI on CPU: a
# refused option would waste a GPU session).
if [[ -n ${PRINT_SEARCH:-} ]]; then printf '%s\n' "${search[@]}"; exit 0; fi
r=/tmp/search32-results && rm -rf "$r" && mkdir -p "$r" "$out"
source tools/gpu-common.sh
# --time-limit ends the search normally with its best so far; timeout is only a backstop (a candidate that hangs).
step search $((search_seconds + 120)) $L "${search[@]}" --out $r/search --time-limit "${search_seconds}s"
step patch 30 $L patch models/tiny-passkey-512.gguf --factors $r/search/factors.json -o /tmp/searched.gguf
step patch-other 30 $L patch models/tiny-passkey-512.gguf --factors "${other#*=}" --context "$length" -o /tmp/other.gguf
sets=(--modes yarn --patched "$name=/tmp/searched.gguf" --patched "${other%%=*}=/tmp/other.gguf")
for seed in $prose_seeds; do
  step niah-prose-$seed 90 $L eval niah models/tiny-passkey-512.gguf --lengths "$length" --depths 10 --trials-per-depth "$trials" "${sets[@]}" \
    --haystack $data/prose-heldout.txt --haystack-passages 5 --seed $seed --out $r/niah-prose-$seed
done
step niah-filler-$filler_seed 60 $L eval niah models/tiny-passkey-512.gguf --lengths "$length" --depths 10 --trials-per-depth "$trials" "${sets[@]}" \
  --seed $filler_seed --out $r/niah-filler-$filler_seed
step ppl 40 $L eval ppl models/tiny-passkey-512.gguf --text $data/prose-heldout.txt --lengths "$length" --windows 4 "${sets[@]}" --out $r/ppl
echo "total: $((SECONDS - t0)) s" >> "$r/steps.txt"
save
cat "$r/steps.txt"
finish
