#!/usr/bin/env bash
# Needle-in-a-haystack grid in one command: context lengths x needle depths x trials x rescaling modes, side by side:
#   none (no rescaling), pi (llama.cpp's linear), yarn (llama.cpp's YaRN) on the unpatched model, and the model
#   patched with YaRN-rule LongRoPE factors (made here with `longrope factors make --method yarn` for the longest
#   length and given as `--patched yarn-rule-Sx=FACTORS.json`: eval patches a copy for the run and deletes it), plus
#   any --patched NAME=FILE you add. Paths are taken from the current folder, as the tool takes them.
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
# Its own usage for -h/--help as the first word; any later --help is eval niah's.
case ${1:-} in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)

# The environment is checked first: its mistakes would otherwise be said as options of commands run for it.
# A plain decimal number, as longrope reads it (Python's float() also takes "1_5" and spaces, longrope does not).
# (Finite too: 1e400 passed here and was then refused as `--scale`, an option never typed.)
if [[ -n ${NIAH_PATCH_SCALE:-} ]] && ! { [[ $NIAH_PATCH_SCALE =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] && awk -v s="$NIAH_PATCH_SCALE" 'BEGIN { exit !(s + 0 > 1 && s + 0 < 1e300) }'; }; then
  echo "niah.sh: NIAH_PATCH_SCALE '$NIAH_PATCH_SCALE': not a number greater than 1 (the scale of the patched mode's factors)" >&2; exit 2
fi

model=$root/models/tiny-passkey-512.gguf
if [[ $# -gt 0 && $1 != -* ]]; then model=$1; shift; fi
[[ -f $model ]] || { echo "niah.sh: model not found: $model" >&2; exit 2; }

# The lengths asked for, to size the factors.
lengths=512,1024,2048,4096
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --lengths) lengths=${args[i + 1]:-$lengths} ;;
    --lengths=* | --lengths:*) lengths=${args[i]:10} ;;
  esac
done

longrope() { dotnet run --project "$root/src/LongRopeGguf.Cli" -c Release --no-build -- "$@"; }
dotnet build "$root/src/LongRopeGguf.Cli" -c Release -v quiet -nologo >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
patched=()
# Spaces as eval niah reads the list ("512, 1024"): the longest was not a number and the patched mode left out silently.
longest=$(tr -d ' \t' <<<"$lengths" | tr ',' '\n' | sort -n | tail -1)
# Lengths that are not plain numbers are left to eval niah, which names the bad one.
if [[ ${NIAH_PATCH:-1} != 0 && $longest =~ ^[0-9]+$ ]]; then
  longrope inspect "$model" --json > "$tmp/inspect.json" # a file that is no model: its one-line error, exit 2
  # The original context, and whether the model carries LongRoPE factors already.
  read -r original longrope < <(python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); a=d["architecture"]; kv={e["key"]: e["value"] for e in d["metadata"]}
print(kv.get(a + ".rope.scaling.original_context_length", kv[a + ".context_length"]),
      int(any(t["name"] == "rope_factors_long.weight" for t in d["tensors"])))' "$tmp/inspect.json")
  scale=${NIAH_PATCH_SCALE:-$(python3 -c "print(max(2, $longest / $original))")}
  # Said as the setting it is, not as `factors make`'s scale (1e9 x 512 tokens passed the check above).
  if [[ -n ${NIAH_PATCH_SCALE:-} ]] && ! awk -v s="$scale" -v o="$original" 'BEGIN { exit !(s * o <= 2147483647) }'; then
    echo "niah.sh: NIAH_PATCH_SCALE '$NIAH_PATCH_SCALE': $original x $NIAH_PATCH_SCALE tokens is more than a GGUF context holds (2147483647)" >&2; exit 2
  fi
  name="yarn-rule-${scale%.0}x"
  # Such a model's factors are replaced in the yarn-rule mode's copy, and nothing measures the file's own unless asked
  # (the run went on without a word).
  if [[ $longrope == 1 ]]; then
    echo "niah.sh: note: $model already carries LongRoPE factors: $name replaces them in its copy, and the file's own are measured only as a mode you add (--patched NAME=$model)" >&2
  fi
  longrope factors make -m "$model" --method yarn -s "$scale" -o "$tmp/$name.json" >/dev/null
  patched=(--patched "$name=$tmp/$name.json")
fi

longrope eval niah "$model" "${patched[@]}" "$@"
