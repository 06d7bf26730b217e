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
#   FUZZ_LOGS        directory to keep each target's libFuzzer log in (timestamped lines)
#   FUZZ_NO_BUILD    when set, skip seeding and building: run the binaries as last built
#   ASAN_OPTIONS     appended to this script's default, detect_stack_use_after_return=0
#                    (fuzz/README.md, "Sanitizer options"); later options win
#
# The summary gives the steady-state exec/s (after the corpus is loaded), the overall
# average libFuzzer prints, and the coverage and corpus size at the end.
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

# The reference and the target code forbid unsafe code, so the borrow checker already
# rules out the bugs stack-use-after-return detection looks for there; it costs every
# instrumented call a fake stack frame (14 to 31 % of the parser targets' time). ASan keeps
# every other check. A caller's own ASAN_OPTIONS come after this default and win.
export ASAN_OPTIONS="detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

if [ -n "${FUZZ_NO_BUILD:-}" ]; then
  echo "smoke: FUZZ_NO_BUILD set: running the targets as last built, on the corpora as they are"
else
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
fi

# Per-target libFuzzer flags, shared with .clusterfuzzlite/build.sh (as <target>.options).
# router: the reference keeps state across requests by design (issued tokens, rate-limit
# windows), so a run allocates more than it frees; libFuzzer's per-input leak check then
# re-runs the input and scans the heap with LeakSanitizer, which halved the exec rate.
# LeakSanitizer still checks the whole process at exit.
target_flags() {
  case "$1" in
    router) echo "-detect_leaks=0" ;;
  esac
}

# Steady-state exec/s: runs after the corpus is loaded (libFuzzer's INITED line) over the
# time since then; the loading phase replays every seed and would understate the rate.
steady_rate() {
  awk '$3 == "INITED" {t0=$1; n0=substr($2,2)+0} $3 == "DONE" {t1=$1; n1=substr($2,2)+0}
    END{ if (t1 > t0 && n1 >= n0) printf "%.0f", (n1-n0)/(t1-t0); else printf "?" }' "$1"
}

status=0
summary=()
for target in "${targets[@]}"; do
  binary="$here/target/$triple/release/$target"
  corpus="$here/corpus/$target"
  artifacts="$here/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  log="$(mktemp)"
  echo "smoke: $target for ${seconds}s"
  times_file="$(mktemp)"
  set +e
  # -reload=0: one process owns the corpus, so re-listing it every second is wasted work.
  # `time` gives the CPU seconds the fuzzer got: on a shared machine, execs per CPU-second
  # says more about the target than execs per wall-clock second.
  # shellcheck disable=SC2046
  {
    TIMEFORMAT='%U %S'
    time {
      nice -n "$niceness" "$binary" "$corpus" \
        -dict="$here/dict/oauth.dict" \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -reload=0 \
        $(target_flags "$target") \
        -artifact_prefix="$artifacts" \
        -print_final_stats=1 2>&1
      echo "smoke-exit-code $?"
    } | while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$log"
  } 2>"$times_file"
  set -e
  code="$(sed -n 's/^[0-9.]* smoke-exit-code //p' "$log")"
  code="${code:-1}"
  cpu="$(awk '{printf "%.1f", $1 + $2}' "$times_file")"
  rm -f "$times_file"
  rate="$(sed -n 's/^[0-9.]* stat::average_exec_per_sec: *//p' "$log")"
  runs="$(sed -n 's/^[0-9.]* stat::number_of_executed_units: *//p' "$log")"
  steady="$(steady_rate "$log")"
  per_cpu="$(awk -v runs="${runs:-0}" -v cpu="${cpu:-0}" 'BEGIN{ if (cpu > 0) printf "%.0f", runs / cpu; else printf "?" }')"
  corpus_line="$(awk '$3 == "DONE" {print $4, $5, $6, $7, $8, $9}' "$log" | tail -n 1)"
  # No panic is the usual case: grep finding nothing must not end the script under pipefail.
  message="$( (grep -A1 'panicked at' "$log" || true) | sed -n 2p | sed -E 's/^[0-9.]+ //')"
  if [ "$code" -ne 0 ] && [ -n "$message" ] &&
    grep -v '^#' "$here/regressions/open.txt" 2>/dev/null | grep -qF "$target/" &&
    grep -v '^#' "$here/regressions/open.txt" | grep -F "$target/" | grep -qF ":: $message ::"; then
    echo "smoke: $target hit a known open finding ($message); see fuzz/regressions/open.txt"
    summary+=("$target: ${runs:-?} runs, ${steady} exec/s steady (${rate:-?} overall, ${per_cpu} per CPU-second), known open finding: $message")
  elif [ "$code" -ne 0 ]; then
    echo "smoke: FINDING in $target (exit $code); input saved under fuzz/artifacts/$target/" >&2
    (grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" || true) | sed -E "s/^[0-9.]+ //" | head -n 20 >&2
    status=1
    summary+=("$target: FINDING")
  else
    summary+=("$target: ${runs:-?} runs, ${steady} exec/s steady (${rate:-?} overall, ${per_cpu} per CPU-second), ${corpus_line:-?}, no finding")
  fi
  if [ -n "${FUZZ_LOGS:-}" ]; then mkdir -p "$FUZZ_LOGS" && cp "$log" "$FUZZ_LOGS/$target.log"; fi
  rm -f "$log"
done

echo "smoke: summary (${seconds}s per target, sanitizer $FUZZ_SANITIZER, ASAN_OPTIONS=$ASAN_OPTIONS)"
printf '  %s\n' "${summary[@]}"
exit "$status"
