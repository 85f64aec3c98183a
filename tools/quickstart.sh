#!/usr/bin/env bash
# The main job on the bundled tiny model, from a fresh clone: build, give the 512-token model a 4096-token context with
# LongRoPE, check the file, and ask it for a pass key hidden in a ~4000-token prompt (8x its trained context).
# Usage: tools/quickstart.sh [OUT_DIR]     (default: out/quickstart)
set -euo pipefail
case ${1:-} in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "tools/quickstart.sh: unknown option '$1' (usage: tools/quickstart.sh [OUT_DIR])" >&2; exit 2 ;;
esac
# A relative OUT is the caller's (resolved before the cd below); the default lies in the repository's ignored out/.
case ${1:-} in ''|/*) ;; *) set -- "$PWD/$1" "${@:2}" ;; esac
[ $# -le 1 ] || { echo "$0: one OUT folder at most, got $#" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-out/quickstart}
mkdir -p "$out"
model=models/tiny-passkey-512.gguf

echo "== building longrope (Release)"
dotnet build src/LongRopeGguf.Cli -c Release 2>&1 | tail -n 2
longrope() { dotnet run --project src/LongRopeGguf.Cli -c Release --no-build -- "$@"; }

# Searched factors for 8x (made by `longrope search`, see docs/search.md) when the repository ships them; otherwise
# the YaRN-rule factors as a LongRoPE factor set.
factors=models/tiny-passkey-512.longrope-4096.json
if [[ ! -f $factors ]]; then
  factors=$out/yarn-8x.json
  echo "== making YaRN-rule LongRoPE factors for 8x"
  longrope factors make --model "$model" --method yarn --scale 8 -o "$factors"
fi

echo "== the model as it is"
longrope inspect "$model" | sed -n '1,7p'

echo "== patching with $factors"
longrope patch "$model" --factors "$factors" -o "$out/tiny-longrope-4k.gguf"

echo "== verifying the patched file"
longrope verify "$out/tiny-longrope-4k.gguf"

# A pass-key prompt of about 4000 tokens (character-level tokenizer: one token per ASCII character, plus BOS), with
# the needle at 40 % depth, in the format the model was trained on.
key=$(( (RANDOM * 32768 + RANDOM) % 90000 + 10000 ))   # RANDOM alone is 0..32767: keys only up to 42767
filler="The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
hay=""; while (( ${#hay} < 4000 )); do hay+=$filler; done
needle="The pass key is $key. Remember it. $key is the pass key. "
question="What is the pass key? The pass key is "
budget=$(( 4000 - ${#needle} - ${#question} ))
at=$(( budget * 40 / 100 ))
printf '%s%s%s%s' "${hay:0:at}" "$needle" "${hay:at:budget-at}" "$question" > "$out/passkey-4k.txt"

echo "== asking the patched model for key $key (the unpatched model cannot even take this prompt: context_length 512)"
longrope generate "$out/tiny-longrope-4k.gguf" --prompt-file "$out/passkey-4k.txt" --max-tokens 5 --temp 0
echo
echo "expected: $key"
