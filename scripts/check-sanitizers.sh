#!/usr/bin/env bash
# The native addon built once with AddressSanitizer and UndefinedBehaviorSanitizer (gcc's), then run under the
# suite's native tests and the fuzz targets (whose files the addon maps): any out-of-bounds access, use after
# free or undefined behaviour stops the run with the sanitizer's report. `npm run check:sanitizers`.
# The build goes to native/build-sanitize/ and is used through MUTASCAN_ADDON; the normal build is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
out=native/build-sanitize
mkdir -p "$out"
flags=(-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  -std=c++17 -fPIC -fexceptions -fopenmp -ffp-contract=off -fno-fast-math
  -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_CPP_EXCEPTIONS
  -I/usr/include/node -I"$(node -p "require('node-addon-api').include_dir")" -I/usr/include/x86_64-linux-gnu/openblas-pthread)
objs=()
for src in native/src/*.cc; do
  obj="$out/$(basename "${src%.cc}").o"
  g++ "${flags[@]}" -c "$src" -o "$obj" &
  objs+=("$obj")
  # two at a time, as the machine has two cores
  if (( ${#objs[@]} % 2 == 0 )); then wait; fi
done
wait
g++ -shared -fsanitize=address,undefined -fopenmp -o "$out/mutascan_native.node" "${objs[@]}" -lopenblas -ldnnl
echo "built $out/mutascan_native.node with -fsanitize=address,undefined"

# Node is not built with the sanitizers: their runtime is loaded first, and leaks are not checked (Node and V8
# keep memory to the end on purpose).
export LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1:handle_segv=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export MUTASCAN_ADDON="$PWD/$out/mutascan_native.node"
export FUZZ_RUNS="${FUZZ_RUNS:-1500}"
node --test --test-concurrency=1 --import tsx test/native-backend.test.ts test/isa-levels.test.ts test/fuzz.test.ts test/fast-vs-plain.test.ts
