#!/usr/bin/env bash
# Builds `longrope` as one Native AOT executable (no .NET runtime start, no JIT): `inspect` of a 3 GiB model in ~20 ms
# instead of ~90, and the fastest `edit` (docs/benchmarks.md). llama.cpp's natives and SkiaSharp's come beside it.
# Usage: tools/publish.sh [OUT_DIR]     (default: out/longrope; then run OUT_DIR/longrope)
# Needs a C toolchain for the native link (clang, or gcc as on Debian: used when clang is absent).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case ${1:-} in
  -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "tools/publish.sh: unknown option '$1' (usage: tools/publish.sh [OUT_DIR])" >&2; exit 2 ;;
esac
out=${1:-$root/out/longrope}
linker=()
command -v clang >/dev/null || linker=(-p:CppCompilerAndLinker=gcc)
dotnet publish "$root/src/LongRopeGguf.Cli" -c Release -p:PublishAot=true "${linker[@]}" -o "$out" -nologo -v quiet
rm -f "$out"/*.dbg "$out"/*.pdb
echo "$out/longrope"
