#!/usr/bin/env bash
# Drives the real OAuth client libraries (interop/README.md) against the reference server:
# builds the server, starts it twice on free loopback ports (plain HTTP, and TLS with a
# certificate made for the run), installs the pinned clients, runs the Node, Python and
# Rust suites, stops the servers, and exits non-zero if anything failed.
# Needs cargo, node (>= 20) with npm, and python3 (>= 3.10) with venv; nothing global.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
run_dir="$here/.run"
rm -rf "$run_dir"
mkdir -p "$run_dir"

say() { printf '== [%4ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'interop: %s\n' "$*" >&2; exit 2; }

for tool in node npm python3; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH"
done
# cargo builds the server (unless QOAUTH_BIN names one) and always runs the Rust suite.
command -v cargo >/dev/null || die "cargo is not on PATH"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "node >= 20 is needed (found $(node --version))"
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || die "python3 >= 3.10 is needed (found $(python3 --version 2>&1))"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

if [ -n "${QOAUTH_BIN:-}" ]; then
  # A prebuilt server, e.g. one under test elsewhere; it must accept `serve` like qoauth.
  qoauth="$QOAUTH_BIN"
else
  say "building the reference server"
  (cd "$root" && cargo build --release -p qoauth)
  target_dir="${CARGO_TARGET_DIR:-$root/target}"
  case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
  qoauth="$target_dir/release/qoauth"
fi
[ -x "$qoauth" ] || die "no server binary at $qoauth"

say "installing the pinned Node clients (npm ci)"
(cd "$here/node" && npm ci --no-audit --no-fund --loglevel=error)

say "installing the pinned Python clients (pip --require-hashes)"
venv="$here/python/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --require-hashes -r "$here/python/requirements.txt"

# Starts `qoauth serve` with the given extra arguments and waits for the base URL it prints
# as its first line of stdout; leaves it in $server_url. Not run in a subshell, so that
# the server's pid reaches the cleanup trap.
start_server() {
  local name="$1"
  shift
  local out="$run_dir/$name.stdout" err="$run_dir/$name.stderr"
  "$qoauth" serve --addr 127.0.0.1:0 "$@" >"$out" 2>"$err" &
  local pid=$!
  pids+=("$pid")
  local url=""
  for _ in $(seq 1 300); do
    url="$(head -n 1 "$out" 2>/dev/null || true)"
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$err" >&2; die "the $name server exited before printing its URL"; }
    sleep 0.1
  done
  [ -n "$url" ] || die "the $name server printed no URL within 30 s"
  server_url="${url%%[[:space:]]*}"
}

say "starting the reference server (plain HTTP and TLS)"
start_server http
http_url="$server_url"
start_server https --tls-generate
https_url="$server_url"
# The server writes the certificate it generated to a file and names it on stderr, after
# printing its URL.
cert=""
for _ in $(seq 1 100); do
  cert="$(sed -n 's/^generated TLS certificate: //p' "$run_dir/https.stderr" | head -n 1)"
  [ -n "$cert" ] && [ -s "$cert" ] && break
  sleep 0.1
done
[ -n "$cert" ] && [ -s "$cert" ] || die "the TLS server named no certificate file on stderr"
cp "$cert" "$run_dir/tls-cert.pem"
rm -f "$cert"
cert="$run_dir/tls-cert.pem"
case "$http_url" in http://*) ;; *) die "unexpected plain URL: $http_url" ;; esac
case "$https_url" in https://*) ;; *) die "unexpected TLS URL: $https_url" ;; esac
say "plain: $http_url  tls: $https_url"

export QOAUTH_HTTP_URL="$http_url"
export QOAUTH_HTTPS_URL="$https_url"
export QOAUTH_FIXTURE="$root/suite/reference/fixtures/default.json"
# Trust the run's certificate: Node adds it to its root store, requests uses it alone, and
# the Rust suite trusts it alone.
export NODE_EXTRA_CA_CERTS="$cert"
export REQUESTS_CA_BUNDLE="$cert"
export QOAUTH_TLS_CERT="$cert"

status=0
say "Node suite"
(cd "$here/node" && node --test --test-concurrency=1 test/) || status=1
say "Python suite"
(cd "$here/python" && "$venv/bin/python" -m pytest) || status=1
# The oauth2 crate; `cargo test` runs the same tests against an in-process reference, here
# they drive the server started above (QOAUTH_HTTPS_URL, QOAUTH_TLS_CERT, QOAUTH_FIXTURE).
say "Rust suite (the oauth2 crate)"
# --workspace keeps the features cargo test --workspace resolved, so nothing is rebuilt.
(cd "$root" && cargo test --quiet --workspace --test oauth2_crate) || status=1

if [ "$status" -ne 0 ]; then
  say "server logs are in $run_dir"
  say "interop: FAILED"
else
  say "interop: all suites passed"
fi
exit "$status"
