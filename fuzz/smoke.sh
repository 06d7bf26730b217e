#!/usr/bin/env bash
# Fuzz smoke run: builds every target once, seeds the corpora from cases/, then runs each
# target for a fixed time. Exits non-zero on the first finding (crash, invariant violation,
# timeout or out-of-memory), leaving the input under fuzz/artifacts/<target>/.
#
#   fuzz/smoke.sh                      # every target, 20 s each
#   FUZZ_SECONDS=600 fuzz/smoke.sh router token_body
#
# Environment:
#   FUZZ_SECONDS     seconds per target (default 20)
#   FUZZ_SANITIZER   address (default when a nightly toolchain exists) or none
#   FUZZ_NICE        niceness of the fuzzing processes (default 10: the machine is shared)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
seconds="${FUZZ_SECONDS:-20}"
niceness="${FUZZ_NICE:-10}"
all_targets=(token_body revoke_body authorize_query basic_header client_assertion redirect_uri fixture router)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "smoke: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

# Nightly gives the address sanitizer; stable can still build the targets with coverage
# instrumentation when RUSTC_BOOTSTRAP unlocks the -Z flags cargo-fuzz passes.
if [ -z "${FUZZ_SANITIZER:-}" ]; then
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then FUZZ_SANITIZER=address; else FUZZ_SANITIZER=none; fi
fi
if [ "$FUZZ_SANITIZER" = address ]; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"

echo "smoke: seeding corpora from cases/"
(cd "$root" && cargo run --quiet -p qoauth-fuzzgen --bin seed-corpus >/dev/null)

echo "smoke: building ${#targets[@]} targets (sanitizer: $FUZZ_SANITIZER)"
# Without a name, `cargo fuzz build` builds every target in one cargo invocation.
if [ "$#" -eq 0 ]; then build_args=(); else build_args=("${targets[@]}"); fi
if [ "${#build_args[@]}" -eq 0 ]; then
  (cd "$here" && nice -n "$niceness" "${fuzz[@]}" build -s "$FUZZ_SANITIZER") ||
    { echo "smoke: build failed" >&2; exit 2; }
else
  for target in "${build_args[@]}"; do
    (cd "$here" && nice -n "$niceness" "${fuzz[@]}" build -s "$FUZZ_SANITIZER" "$target") ||
      { echo "smoke: build of $target failed" >&2; exit 2; }
  done
fi

status=0
summary=()
for target in "${targets[@]}"; do
  binary="$here/target/$triple/release/$target"
  corpus="$here/corpus/$target"
  artifacts="$here/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  log="$(mktemp)"
  echo "smoke: $target for ${seconds}s"
  set +e
  nice -n "$niceness" "$binary" "$corpus" \
    -dict="$here/dict/oauth.dict" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" \
    -print_final_stats=1 >"$log" 2>&1
  code=$?
  set -e
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  # No panic is the usual case: grep finding nothing must not end the script under pipefail.
  message="$( (grep -A1 'panicked at' "$log" || true) | sed -n 2p)"
  if [ "$code" -ne 0 ] && [ -n "$message" ] &&
    grep -v '^#' "$here/regressions/open.txt" 2>/dev/null | grep -qF "$target/" &&
    grep -v '^#' "$here/regressions/open.txt" | grep -F "$target/" | grep -qF ":: $message ::"; then
    echo "smoke: $target hit a known open finding ($message); see fuzz/regressions/open.txt"
    summary+=("$target: ${runs:-?} runs, ${rate:-?} exec/s, known open finding: $message")
  elif [ "$code" -ne 0 ]; then
    echo "smoke: FINDING in $target (exit $code); input saved under fuzz/artifacts/$target/" >&2
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -n 20 >&2 || true
    status=1
    summary+=("$target: FINDING")
  else
    summary+=("$target: ${runs:-?} runs, ${rate:-?} exec/s, no finding")
  fi
  rm -f "$log"
done

echo "smoke: summary (${seconds}s per target, sanitizer $FUZZ_SANITIZER)"
printf '  %s\n' "${summary[@]}"
exit "$status"
