#!/usr/bin/env bash
# Needle-in-a-haystack grid in one command: context lengths x needle depths x trials x rescaling modes, side by side:
#   none (no rescaling), pi (llama.cpp's linear), yarn (llama.cpp's YaRN) on the unpatched model, and a copy of the
#   model patched with YaRN-rule LongRoPE factors (made here with `longrope factors make --method yarn` + `longrope
#   patch`, for the longest length), plus any --patched NAME=FILE you add.
#
# Usage: tools/niah.sh [MODEL] [longrope eval niah options...]
#   MODEL defaults to models/tiny-passkey-512.gguf; the default grid is 512,1024,2048,4096 x 10 depths x 1 trial.
#   Examples:
#     tools/niah.sh                                                     # the default grid -> results/niah/
#     tools/niah.sh --haystack /usr/share/common-licenses/GPL-3 --out results/niah-prose
#     tools/niah.sh --lengths 8192,16384 --out results/niah-long        # longer lengths (GPU backend advised)
#   Environment: NIAH_PATCH=0 skips the patched mode; NIAH_PATCH_SCALE=S makes the factors for S x the original
#   context (default: longest length / original context).
# Outputs in the --out folder (default results/niah): results.jsonl (one line per trial), summary.csv, summary.md,
# summary.json, heatmap-MODE.png per mode, accuracy-vs-length.png. Re-running skips the trials already recorded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

model=models/tiny-passkey-512.gguf
if [[ $# -gt 0 && $1 != -* ]]; then model=$1; shift; fi
[[ -f $model ]] || { echo "niah.sh: model not found: $model" >&2; exit 2; }

# What the caller asked for, to place the patched model and size its factors.
out=results/niah
lengths=512,1024,2048,4096
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --out) out=${args[i + 1]:-$out} ;;
    --out=*) out=${args[i]#--out=} ;;
    --lengths) lengths=${args[i + 1]:-$lengths} ;;
    --lengths=*) lengths=${args[i]#--lengths=} ;;
  esac
done
has_out=0
for a in "$@"; do [[ $a == --out || $a == --out=* ]] && has_out=1; done

longrope() { dotnet run --project src/LongRopeGguf.Cli -c Release --no-build -- "$@"; }
dotnet build src/LongRopeGguf.Cli -c Release -v quiet -nologo >/dev/null

patched=()
if [[ ${NIAH_PATCH:-1} != 0 ]]; then
  original=$(longrope inspect "$model" --json | python3 -c 'import json,sys
d=json.load(sys.stdin); a=d["architecture"]; kv={e["key"]: e["value"] for e in d["metadata"]}
print(kv.get(a + ".rope.scaling.original_context_length", kv[a + ".context_length"]))')
  longest=$(tr ',' '\n' <<<"$lengths" | sort -n | tail -1)
  scale=${NIAH_PATCH_SCALE:-$(python3 -c "print(max(2, $longest / $original))")}
  name="yarn-rule-${scale%.0}x"
  mkdir -p "$out"
  stem=$(basename "$model" .gguf)
  factors="$out/$stem.$name.json"
  file="$out/$stem.$name.gguf"
  if [[ ! -f $file ]]; then
    longrope factors make -m "$model" --method yarn -s "$scale" -o "$factors" >/dev/null
    longrope patch "$model" -f "$factors" -o "$file" >/dev/null
  fi
  patched=(--patched "$name=$file")
fi

extra=()
[[ $has_out == 1 ]] || extra=(--out "$out")
exec dotnet run --project src/LongRopeGguf.Cli -c Release --no-build -- eval niah "$model" "${patched[@]}" "${extra[@]}" "$@"
