#!/usr/bin/env bash
# Prepares the GPU checks of issue 7 on this (CPU) machine: publishes the CLI with the device kit's CUDA natives into
# .gpu/ (see ../shared/device-kit/README.md), with the tiny model's reference prompt, a prose text and any factor
# files in models/. The model itself travels with the working tree (models/), not in .gpu (64 MiB limit). Then run on the device, in one call:  bash tools/gpu-check.sh   (carry: [".gpu"])
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
kit=${DEVICE_KIT:-$root/../shared/device-kit}
tmp=$(mktemp -d)
/usr/bin/python3 -c 'import json,sys; sys.stdout.write(json.load(open("models/tiny-passkey-512.reference.json"))["reference"]["prompt"])' > "$tmp/reference-prompt.txt"
cp models/tiny-passkey-512.reference.json "$tmp/"
cp /usr/share/common-licenses/GPL-3 "$tmp/prose.txt"
extra=("$tmp/reference-prompt.txt" "$tmp/tiny-passkey-512.reference.json" "$tmp/prose.txt")
for f in models/*.longrope-*.json; do [[ -f $f ]] && extra+=("$f"); done
"$kit/stage.sh" src/LongRopeGguf.Cli/LongRopeGguf.Cli.csproj "${extra[@]}"
rm -rf "$tmp"
