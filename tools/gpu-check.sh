#!/usr/bin/env bash
# Every GPU check of issues 6 and 7 in one run on the lent device, after tools/gpu-stage.sh here:
#   device run, carry [".gpu"]:  bash tools/gpu-check.sh
# Writes $OUT/summary.txt (each step's exit status and time, the checks' verdicts, the tables) and
# $OUT/gpu-results.tar.gz (every output), both refreshed after each step, so that what ran comes back even if the
# call is cut short. Each step is bounded so that one slow step cannot eat the device time (about 7 minutes in all).
# A dry run on a CPU machine: LONGROPE_NATIVE_LIB=<folder with a CPU libllama.so> bash tools/gpu-check.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-/tmp/gpu-out}
r=/tmp/gpu-results && rm -rf "$r" && mkdir -p "$r" "$out"
x=.gpu/extra
lengths=${GPU_CHECK_LENGTHS:-512,1024,2048,4096,8192,16384}

save() {
  { cat "$r/steps.txt"; echo; cat "$r/checks.txt" 2>/dev/null; echo
    for f in "$r"/bench.out "$r"/niah-filler/summary.md "$r"/niah-prose/summary.md "$r"/ppl/ppl.md; do
      [[ -f $f ]] && { echo "== $f"; head -c 6000 "$f"; echo; }; done
    grep -ho '"candidates_per_minute": [0-9.]*' "$r"/search*.out 2>/dev/null; } > "$out/summary.txt"
  tar -czf "$out/gpu-results.tar.gz" -C /tmp gpu-results 2>/dev/null
}
source tools/gpu-common.sh
check() { echo "$1: $2" | tee -a "$r/checks.txt"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$r/nvidia-smi.csv" 2>&1

# Long-context files: the YaRN rule at 32x (16384 tokens) and the shipped 8x set given a 16384-token context.
step factors 30 $L factors make --model models/tiny-passkey-512.gguf --method yarn --scale 32 -o $r/yarn32.json
step patch 30 $L patch models/tiny-passkey-512.gguf --factors $r/yarn32.json -o /tmp/tiny-yarn32.gguf
step patch-shipped 30 $L patch models/tiny-passkey-512.gguf --factors $x/tiny-passkey-512.longrope-4096.json -o /tmp/shipped-8x.gguf
step patch-shipped16k 30 $L patch models/tiny-passkey-512.gguf --factors $x/tiny-passkey-512.longrope-4096.json --context 16384 -o /tmp/shipped-8x-16k.gguf
patched=(--patched yarn-rule-32x=/tmp/tiny-yarn32.gguf --patched shipped-8x=/tmp/shipped-8x-16k.gguf)

# 1. The reference prompt with every layer offloaded: 31415, logits within 0.02 of the reference, the device named.
step reference 30 $L generate models/tiny-passkey-512.gguf --prompt-file $x/reference-prompt.txt --max-tokens 5 --temp 0 --json --logits-out $r/logits.json
python3 - "$r" "$x/tiny-passkey-512.reference.json" >> "$r/checks.txt" <<'PY'
import json, sys
r, ref = sys.argv[1], json.load(open(sys.argv[2]))["reference"]
try:
    got, run = json.load(open(f"{r}/logits.json")), json.load(open(f"{r}/reference.out"))
except Exception as e:
    print(f"reference: no result ({e})"); sys.exit()
a, b = got["last_logits"], ref["last_logits"]
if len(a) != len(b) or not a:
    print(f"reference: FAIL {len(a)} logits, the reference has {len(b)}"); sys.exit()
d = max(abs(float(x) - y) for x, y in zip(a, b))  # a NaN from a broken build is written as the string "NaN"
ok = got["token_ids"] == ref["token_ids"] and got["argmax"] == ref["argmax"] and d <= 0.02 and run["text"] == "31415"
print(f"reference: {'PASS' if ok else 'FAIL'} text {run['text']!r}, same token ids {got['token_ids'] == ref['token_ids']}, "
      f"argmax {got['argmax']} (reference {ref['argmax']}), max |logit - reference| {d:.5f} (bound 0.02), "
      f"backend {run['backend']}, devices {[v['description'] for v in run['devices']]}, offloaded {run.get('offloaded_layers')}/{run.get('total_layers')}")
PY
check "startup line" "$(head -1 "$r/reference.err")"

# 2. Short/long selection and the chat's move from the short to the long set (the CLI tests' checks, on CUDA).
step generate-short 30 $L generate /tmp/shipped-8x.gguf --prompt-file $x/chat-turn1.txt --max-tokens 5 --temp 0 --json
step generate-long 30 $L generate /tmp/shipped-8x.gguf --prompt-file $x/long-prompt.txt --max-tokens 5 --temp 0 --json
python3 - "$r" >> "$r/checks.txt" <<'PY'
import json, sys
r = sys.argv[1]
for name, want_set, want_ctx, key in (("generate-short", "short", 512, "27182"), ("generate-long", "long", None, "21985")):
    try: j = json.load(open(f"{r}/{name}.out"))
    except Exception as e: print(f"{name}: no result ({e})"); continue
    ok = j["factor_set"] == want_set and (want_ctx is None or j["context_size"] == want_ctx) and j["text"].startswith(key)
    print(f"{name}: {'PASS' if ok else 'FAIL'} set {j['factor_set']}, n_ctx {j['context_size']}, yarn_attn_factor {j['yarn_attn_factor']}, answer {j['text']!r}, prefill {j['timings']['prefill_tokens_per_s']} tok/s")
PY
step chat 60 $L chat /tmp/shipped-8x.gguf --temp 0 -n 8 --stop . < $x/chat-input.txt
moves=$(grep -c '^\[moved to the long factor set' "$r/chat.err"); keys=$(grep -o '27182' "$r/chat.out" | wc -l)
[[ $moves == 1 && $keys == 2 ]] && v=PASS || v=FAIL
check chat "$v moves $moves ($(grep -o '^\[moved[^]]*\]' "$r/chat.err")), pass key answered in $keys of 2 turns"

# 3. Runner vs a bare LLamaSharp loop: prefill and decode.
step bench 60 $L bench /tmp/tiny-yarn32.gguf --lengths 512,2048,4096,8192 --decode-tokens 128 --repeats 5

# 4. Needle in a haystack (filler and prose) and perplexity, every mode, 512..16384 tokens.
step niah-filler 80 $L eval niah models/tiny-passkey-512.gguf --lengths $lengths "${patched[@]}" --out $r/niah-filler
step niah-prose 80 $L eval niah models/tiny-passkey-512.gguf --lengths $lengths "${patched[@]}" --haystack $x/prose.txt --out $r/niah-prose
step ppl 50 $L eval ppl models/tiny-passkey-512.gguf --text $x/prose.txt --lengths $lengths "${patched[@]}" --windows 2 --out $r/ppl

# 5. Issue 6: search speed, the 16x pass-key search of docs/search.md (12 prompts of 8192 tokens in 3 passages,
# population 8, 2 iterations x 5), to compare with its candidates/min on the 2-core CPU.
step search16 110 $L search models/tiny-passkey-512.gguf -L 8192 --seed-rules pi,ntk,yarn --fitness passkey --text $x/prose-search.txt \
  --passkey-prompts 12 --passkey-passages 3 --passkey-seed 7003 --attn-range 1.24:1.40 --population 8 --parents 4 --mutations 3 --crossovers 2 \
  --mutation-probability 0.2 --iterations 2 --init $x/tiny-long-8192-pk5.factors.json --out $r/search16 --json
echo "total: $((SECONDS - t0)) s" >> "$r/steps.txt"
save
ls -la "$out"
finish
