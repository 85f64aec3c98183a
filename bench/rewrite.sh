#!/usr/bin/env bash
# Issue 2 ("Speed and memory"): how fast and how lean `longrope edit` rewrites a multi-GB model, compared with cp in
# the same run, and how long `longrope inspect` takes on it. Figures go to docs/benchmarks.md ("GGUF rewrite").
#
# Usage: bench/rewrite.sh [MODEL.gguf]
#   Without MODEL, a synthetic llama model of SIZE_GIB GiB is generated (and deleted at the end unless KEEP=1).
# Environment:
#   SIZE_GIB=3        size of the generated model
#   RUNS=10           timed runs per command for the rewrite comparison (after one warm-up run each)
#   BENCH_DIR=out/bench   where builds, the model, the copies and the reports go (needs ~3 x SIZE_GIB free)
#   BDN=1             also run the BenchmarkDotNet header-read benchmark (short job, in process)
#   KEEP=1            keep the generated model
#   NO_BUILD=1        reuse the builds of a previous run in BENCH_DIR (e.g. to build first, then measure on a quiet machine)
#
# The page cache cannot be dropped here (no privileges on shared machines), so every figure is warm: the source is
# in the page cache after the warm-up run. Each timed run starts with the previous copy deleted and `sync`, so that
# no run pays for the write-back of another's dirty pages.
set -euo pipefail
case ${1:-} in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "bench/rewrite.sh: unknown option '$1' (usage: bench/rewrite.sh [MODEL.gguf])" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "bench/rewrite.sh: one MODEL at most, got $# (usage: bench/rewrite.sh [MODEL.gguf])" >&2; exit 2; }
# Checked before minutes of building; a relative MODEL is the caller's, resolved before the cd below.
if [ $# -eq 1 ]; then
  [ -f "$1" ] || { echo "bench/rewrite.sh: $1: no such model file" >&2; exit 2; }
  set -- "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=${BENCH_DIR:-$root/out/bench}
size=${SIZE_GIB:-3}
runs=${RUNS:-10}
mkdir -p "$work"
work=$(cd "$work" && pwd)

need() { command -v "$1" >/dev/null 2>&1; }
if ! need hyperfine || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && apt-get install -y -qq hyperfine time >/dev/null
fi

if [ -z "${NO_BUILD:-}" ]; then
  echo "== building (Release; the CLI as Native AOT (tools/publish.sh), and framework-dependent ReadyToRun and plain JIT)"
  tools/publish.sh "$work/longrope-aot" >/dev/null
  dotnet publish src/LongRopeGguf.Cli -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
    -o "$work/longrope-r2r" -v quiet -nologo
  dotnet publish src/LongRopeGguf.Cli -c Release -p:PublishReadyToRun=false -o "$work/longrope-jit" -v quiet -nologo
  dotnet build bench/LongRopeGguf.Bench -c Release -o "$work/bench" -v quiet -nologo
fi
longrope=$work/longrope-aot/longrope
longrope_r2r=$work/longrope-r2r/longrope
longrope_jit=$work/longrope-jit/longrope
benchtool=(dotnet "$work/bench/LongRopeGguf.Bench.dll")

src=${1:-}
generated=
if [ -z "$src" ]; then
  src=$work/big.gguf
  generated=1
  echo "== generating a ${size} GiB synthetic llama model"
  "${benchtool[@]}" gen-gguf "$src" --size-gib "$size"
fi
src=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
dst=$work/copy.gguf
cleanup() {
  rm -f "$dst" "$work"/.copy.gguf.longrope-tmp-*
  if [ -n "$generated" ] && [ -z "${KEEP:-}" ]; then rm -f "$src"; fi
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== file system of $work: $(df -T "$work" | awk 'NR==2 {print $2}'); cp: $(cp --version | head -1)"

echo "== rewrite: cp vs longrope edit (warm, $runs runs each)"
hyperfine --warmup 1 --runs "$runs" --prepare "rm -f '$dst' && sync" \
  --export-json "$work/rewrite.json" --export-markdown "$work/rewrite.md" \
  -n "cp" "cp '$src' '$dst'" \
  -n "longrope edit" "'$longrope' edit '$src' -o '$dst' --set general.name=string:x" \
  -n "longrope edit (R2R)" "'$longrope_r2r' edit '$src' -o '$dst' --set general.name=string:x"
python3 - "$work/rewrite.json" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
cp = r["cp"]
for name in ("longrope edit", "longrope edit (R2R)"):
    ed = r[name]
    print(f"ratio {name}/cp: mean {ed['mean'] / cp['mean']:.3f}, median {ed['median'] / cp['median']:.3f}, "
          f"min {ed['min'] / cp['min']:.3f} (target <= 1.15); cpu (user+sys) cp {cp['user'] + cp['system']:.2f} s, "
          f"edit {ed['user'] + ed['system']:.2f} s")
EOF

echo "== rewrite, interleaved pairs (cp and edit alternate, so both run under the same load)"
python3 bench/paired.py "$runs" "rm -f '$dst' && sync" \
  "cp" "cp '$src' '$dst'" \
  "longrope edit" "'$longrope' edit '$src' -o '$dst' --set general.name=string:x"

if command -v strace >/dev/null 2>&1; then
  echo "== time inside copy_file_range (strace -c; the copy itself, without process start-up and header work)"
  for i in 1 2 3; do
    for label in cp edit; do
      rm -f "$dst"; sync
      if [ $label = cp ]; then strace -c -f -o "$work/strace.txt" cp "$src" "$dst"
      else strace -c -f -o "$work/strace.txt" "$longrope" edit "$src" -o "$dst" --set general.name=string:x >/dev/null; fi
      printf '%-5s %s s in %s copy_file_range calls\n' $label \
        "$(awk '$NF == "copy_file_range" {print $2}' "$work/strace.txt")" "$(awk '$NF == "copy_file_range" {print $4}' "$work/strace.txt")"
    done
  done
fi

echo "== peak RSS (/usr/bin/time -v)"
rss() { # label, command...
  local label=$1; shift
  rm -f "$dst"; sync
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt"
  printf '%-16s %6d KiB max RSS, %s s wall\n' "$label" \
    "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")" \
    "$(awk -F'): ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")"
}
rss "cp" cp "$src" "$dst"
rss "longrope edit" "$longrope" edit "$src" -o "$dst" --set general.name=string:x
rss "longrope inspect" "$longrope" inspect "$src"

echo "== inspect wall time (Native AOT vs ReadyToRun vs JIT build; --version is the start-up floor)"
hyperfine -N --warmup 3 --runs 30 --export-markdown "$work/inspect.md" \
  -n "inspect (AOT)" "'$longrope' inspect '$src'" \
  -n "inspect --json (AOT)" "'$longrope' inspect --json '$src'" \
  -n "start-up floor: longrope --version (AOT)" "'$longrope' --version" \
  -n "inspect (R2R)" "'$longrope_r2r' inspect '$src'" \
  -n "start-up floor: longrope --version (R2R)" "'$longrope_r2r' --version" \
  -n "inspect (JIT)" "'$longrope_jit' inspect '$src'"

echo "== inspect wall time, interleaved runs (the same commands under the same machine drift)"
python3 bench/interleaved.py 30 "'$longrope' inspect '$src'" "'$longrope' --version" "'$longrope_r2r' inspect '$src'" "'$longrope_jit' inspect '$src'"

echo "== patch --in-place of a patched model: a factor update writes the factors, not the file (tiny model vs this one)"
# The first patch rewrites each file once (it adds the factor tensors); the timed runs only swap two factor sets.
tiny=$work/tiny-patched.gguf
"$longrope" factors make -m "$src" --method yarn -s 8 -o "$work/yarn8.json" >/dev/null
"$longrope" factors make -m "$src" --method pi -s 8 -o "$work/pi8.json" >/dev/null
"$longrope" factors make -m models/tiny-passkey-512.gguf --method yarn -s 8 -o "$work/tiny-yarn8.json" >/dev/null
"$longrope" factors make -m models/tiny-passkey-512.gguf --method pi -s 8 -o "$work/tiny-pi8.json" >/dev/null
rm -f "$dst"; sync
"$longrope" patch "$src" -f "$work/yarn8.json" -o "$dst" >/dev/null
"$longrope" patch models/tiny-passkey-512.gguf -f "$work/tiny-yarn8.json" -o "$tiny" >/dev/null
hyperfine -N --warmup 2 --runs 20 --export-markdown "$work/in-place.md" \
  -n "patch --in-place, tiny model ($(stat -c %s "$tiny") bytes)" "'$longrope' patch '$tiny' -f '$work/tiny-pi8.json' --in-place" \
  -n "patch --in-place, this model ($(stat -c %s "$dst") bytes)" "'$longrope' patch '$dst' -f '$work/pi8.json' --in-place"
rm -f "$tiny" "$work"/*8.json

echo "== header read in process (no start-up)"
"${benchtool[@]}" read-header "$src"

if [ -n "${BDN:-}" ]; then
  echo "== BenchmarkDotNet: GgufReader.Read (ShortRun, in process)"
  "${benchtool[@]}" bdn "$src"
fi
