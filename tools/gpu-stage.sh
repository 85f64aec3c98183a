#!/usr/bin/env bash
# Prepares the GPU checks of issues 6 and 7 on this (CPU) machine: publishes the CLI with the device kit's CUDA natives into
# .gpu/ (see ../shared/device-kit/README.md), with the tiny model's reference prompt, a prose text and any factor
# files in models/. The model itself travels with the working tree (models/), not in .gpu (64 MiB limit). Then run on the device, in one call:  bash tools/gpu-check.sh   (carry: [".gpu"])
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
kit=${DEVICE_KIT:-$root/../shared/device-kit}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -c 'import json,sys; sys.stdout.write(json.load(open("models/tiny-passkey-512.reference.json"))["reference"]["prompt"])' > "$tmp/reference-prompt.txt"
cp models/tiny-passkey-512.reference.json "$tmp/"
cp /usr/share/common-licenses/GPL-3 "$tmp/prose.txt"
# Pass-key prompts built like the runtime tests' (RuntimeTestEnvironment.PassKeyPrompt): a chat's first turn that fits
# the short set, a second turn that moves it to the long set, and a one-shot prompt that needs the long set.
/usr/bin/python3 - "$tmp" <<'PY'
import sys
def passkey(chars, depth, key):
    filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
    needle, question = f"The pass key is {key}. Remember it. {key} is the pass key. ", "What is the pass key? The pass key is "
    hay = chars - len(needle) - len(question)
    h = (filler * (hay // len(filler) + 1))[:hay]
    at = int(depth * hay)
    return h[:at] + needle + h[at:] + question
d = sys.argv[1]
turn1 = passkey(399, 0.3, 27182)
turn2 = ". " + passkey(460, 0.5, 0).replace("The pass key is 0. Remember it. 0 is the pass key. ", "")
open(f"{d}/chat-turn1.txt", "w").write(turn1)
open(f"{d}/chat-input.txt", "w").write(turn1 + "\n" + turn2 + "\n")
open(f"{d}/long-prompt.txt", "w").write(passkey(4001, 0.5, 21985))
PY
# The seed of tools/gpu-search32.sh: the 16x winner carried to 32x.
/usr/bin/python3 tools/progressive_init.py docs/search-results/tiny-long-8192-mix6-it8.factors.json 16384 "$tmp/carried-mix6-it8-16384.json" > /dev/null
extra=("$tmp/carried-mix6-it8-16384.json" "$tmp/reference-prompt.txt" "$tmp/tiny-passkey-512.reference.json" "$tmp/prose.txt" "$tmp/chat-turn1.txt" "$tmp/chat-input.txt" "$tmp/long-prompt.txt"
  tests/LongRopeGguf.Search.Tests/Data/prose-search.txt docs/search-results/tiny-long-8192-pk5.factors.json)
for f in models/*.longrope-*.json; do [[ -f $f ]] && extra+=("$f"); done
"$kit/stage.sh" src/LongRopeGguf.Cli/LongRopeGguf.Cli.csproj "${extra[@]}"
# The kit's app carries runtime parts the device run never loads: the debugger's (libmscordbi, libmscordaccore), the
# alternative GCs, the tracing provider, createdump and the satellite resource folders. Repacked without them (and at
# xz -9e) the app is ~1.9 MiB smaller, headroom under the 64 MiB limit as the committed records grow.
mkdir "$tmp/app" && tar -xJf .gpu/app.tar.xz -C "$tmp/app"
( cd "$tmp/app/app" && rm -rf libmscordbi.so libmscordaccore.so libclrgc.so libclrgcexp.so libcoreclrtraceptprovider.so createdump \
    cs de es fr it ja ko pl pt-BR ru tr zh-Hans zh-Hant )
"$tmp/app/app/longrope" --help > /dev/null # still starts
tar -C "$tmp/app" -c app | xz -9e -T2 > .gpu/app.tar.xz
rm -rf "$tmp"
# The device tool refuses a call whose working tree (tracked and untracked-not-ignored files) plus carried paths pass
# 64 MiB, counting something like a tar's 512-byte blocks. Say so here rather than at the first device call.
tree=$(git ls-files -z --cached --others --exclude-standard | { xargs -0 stat -c %s 2>/dev/null || true; } | awk '{t += int(($1 + 511) / 512) * 512 + 512} END {print t + 0}')
gpu=$(du -sb .gpu | cut -f1); need=$(du -sb .gpu/app.tar.xz .gpu/natives | awk '{t += $1} END {print t}')
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "device call: working tree $(mib "$tree") + .gpu $(mib "$gpu") = $(mib $((tree + gpu))) of 64 MiB"
if (( tree + gpu > 64 * 1048576 )); then
  if (( tree + need > 64 * 1048576 )); then
    echo "too large even carrying only .gpu/app.tar.xz and .gpu/natives: compress or move records the run does not need (docs/gpu/README.md) out of the tree for the call" >&2
  else
    echo "over the limit with all of .gpu: carry [\".gpu/app.tar.xz\", \".gpu/natives\"] (scripts that read .gpu/extra need it too)" >&2
  fi
fi
