#!/usr/bin/env bash
# Issue 7: every GPU check in one run on the lent device, after tools/gpu-stage.sh here. Writes $OUT/gpu-results.tar.gz
# (all outputs) and $OUT/summary.txt. Each step is bounded so that one slow step cannot eat the device time.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-/tmp/gpu-out}
r=/tmp/gpu-results && rm -rf "$r" && mkdir -p "$r"
x=.gpu/extra
mkdir -p "$out"
L() { bash .gpu/run.sh "$@"; }
step() { local name=$1 limit=$2; shift 2; local t0=$SECONDS
  timeout "$limit" "$@" > "$r/$name.out" 2> "$r/$name.err"; local rc=$?
  echo "$name: exit $rc, $((SECONDS - t0)) s" | tee -a "$r/steps.txt"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$r/nvidia-smi.csv" 2>&1

# Long-context files: YaRN-rule factors for 16x (and any searched factors shipped in models/).
step factors 60 L factors make --model models/tiny-passkey-512.gguf --method yarn --scale 32 -o $r/yarn32.json
step patch 60 L patch models/tiny-passkey-512.gguf --factors $r/yarn32.json -o /tmp/tiny-yarn32.gguf
patched=(--patched yarn-rule-32x=/tmp/tiny-yarn32.gguf)
for f in $x/*.longrope-*.json; do
  [[ -f $f ]] || continue; n=$(basename "$f" .json)
  step "patch-$n" 60 L patch models/tiny-passkey-512.gguf --factors "$f" --context 16384 -o "/tmp/$n.gguf" && patched+=(--patched "$n=/tmp/$n.gguf")
done

# 1. The reference prompt on CUDA, all layers offloaded: the answer must be 31415 (startup line names the device).
step reference 60 L generate models/tiny-passkey-512.gguf --prompt-file $x/reference-prompt.txt --max-tokens 5 --temp 0 --json
# 2. Runner vs bare LLamaSharp loop: prefill 512/2048/4096 and decode, and the short-to-long move.
step bench 180 L bench /tmp/tiny-yarn32.gguf --lengths 512,2048,4096 --decode-tokens 128 --repeats 5 --json
# 3. Needle in a haystack, filler and prose, 512..16384, all modes; 4. perplexity.
step niah-filler 200 L eval niah models/tiny-passkey-512.gguf --lengths 512,1024,2048,4096,8192,16384 "${patched[@]}" --out $r/niah-filler
step niah-prose 200 L eval niah models/tiny-passkey-512.gguf --lengths 512,1024,2048,4096,8192,16384 "${patched[@]}" --haystack $x/prose.txt --out $r/niah-prose
step ppl 120 L eval ppl models/tiny-passkey-512.gguf --text $x/prose.txt --lengths 512,1024,2048,4096,8192,16384 "${patched[@]}" --windows 2 --out $r/ppl
# 5. Issue 6: search speed on the GPU, the 16x pass-key search of docs/search.md (12 prompts of 8192 tokens in 3
# passages, population 8, 2 iterations x 5), to compare with its 0.55 candidates/min on the 2-core CPU.
step search16 240 L search models/tiny-passkey-512.gguf -L 8192 --fitness passkey --text tests/LongRopeGguf.Search.Tests/Data/prose-search.txt \
  --passkey-prompts 12 --passkey-passages 3 --passkey-seed 7003 --attn-range 1.24:1.40 --population 8 --parents 4 --mutations 3 --crossovers 2 \
  --mutation-probability 0.2 --iterations 2 --init docs/search-results/tiny-long-8192-pk5.factors.json --out $r/search16 --json

{ cat "$r/steps.txt"; echo; head -c 2000 "$r/reference.out"; echo; cat "$r"/niah-filler/summary.md "$r"/niah-prose/summary.md "$r"/ppl/ppl.md 2>/dev/null; grep -o '"candidates_per_minute": [0-9.]*' "$r/search16.out"; } > "$out/summary.txt"
tar -czf "$out/gpu-results.tar.gz" -C /tmp gpu-results
ls -la "$out"
