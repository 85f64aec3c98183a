# Sourced by the device scripts (tools/gpu-check.sh, tools/gpu-search32.sh, tools/gpu-grid32.sh) with $r (results folder) and $out set, and
# a save function that refreshes $out from $r. Unpacks the staged app and the CUDA natives once (.gpu/run.sh would
# unpack the app again for every command), sets $L to the app, and defines step: run one bounded command into
# $r/NAME.out/.err, record its exit status and time in $r/steps.txt, then save.
# LONGROPE_NATIVE_LIB set beforehand (a CPU build's folder) makes a dry run on a machine without a GPU.
t0=$SECONDS
if [[ -z ${LONGROPE_NATIVE_LIB:-} ]]; then
  mkdir -p /tmp/llama-cuda && cat .gpu/natives/llama-cuda-sm90.tar.xz.part* | tar -xJ -C /tmp/llama-cuda \
    || { echo "unpack: the CUDA natives in .gpu/natives did not unpack (run tools/gpu-stage.sh)" | tee "$out/summary.txt"; exit 1; }
  export LONGROPE_NATIVE_LIB=/tmp/llama-cuda/lib
fi
rm -rf /tmp/gpu-app && mkdir -p /tmp/gpu-app && tar -xJf .gpu/app.tar.xz -C /tmp/gpu-app \
  || { echo "unpack: .gpu/app.tar.xz did not unpack (run tools/gpu-stage.sh)" | tee "$out/summary.txt"; exit 1; }
L=/tmp/gpu-app/app/longrope
echo "unpack: $((SECONDS - t0)) s" > "$r/steps.txt"
# Steps go on after a failure (the later ones still measure something); finish() ends the script non-zero if any failed.
failed=0
step() { local name=$1 limit=$2; shift 2; local s=$SECONDS
  timeout -k 10 "$limit" "$@" > "$r/$name.out" 2> "$r/$name.err"; local rc=$?
  [ $rc -eq 0 ] || failed=$((failed + 1))
  echo "$name: exit $rc, $((SECONDS - s)) s" | tee -a "$r/steps.txt"; save; return $rc; }
finish() { [ "$failed" -eq 0 ] || { echo "$failed step(s) failed: see steps.txt and the steps' .err files" >&2; exit 1; }; }
