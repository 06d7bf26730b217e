#!/bin/bash -eu
# ClusterFuzzLite build: every cargo-fuzz target of fuzz/, with its seed corpus from cases/
# and the protocol dictionary, into $OUT.
cd "$SRC/qoauth"

# The seed generator is a normal program: build it without the fuzzing RUSTFLAGS the
# builder exports, in its own target directory so the two builds do not mix.
env -u RUSTFLAGS CARGO_TARGET_DIR=/tmp/seed-target \
  cargo run --release -p qoauth-fuzzgen --bin seed-corpus

cd fuzz
cargo fuzz build -O --debug-assertions
triple="$(rustc -vV | sed -n 's/^host: //p')"
for target in $(cargo fuzz list); do
  cp "target/$triple/release/$target" "$OUT/"
  cp dict/oauth.dict "$OUT/$target.dict"
  # Same per-target flags as fuzz/smoke.sh: the router keeps state across requests by
  # design, so libFuzzer's per-input leak check would only re-run inputs and scan the heap.
  if [ "$target" = router ]; then
    printf '[libfuzzer]\ndetect_leaks = 0\n' >"$OUT/$target.options"
  fi
  if [ -d "corpus/$target" ]; then
    (cd "corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
