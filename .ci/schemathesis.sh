#!/usr/bin/env bash
# Schemathesis against the real server on SQLite, driven by the OpenAPI
# document the server serves (GET /openapi.json): every check, the
# document's links (create -> get -> escalate -> comment) in the stateful
# phase; once with a customer's token (customer routes, events, health,
# metrics, the document) and once with a staff (admin) token (staff routes,
# events, dashboard). Bounded: about three minutes of testing. Exits
# non-zero on any failure. Socket.IO (/socket.io/) is in the document but
# not fuzzed here: Engine.IO is a framing protocol of its own (its refusals
# are 400s with Engine.IO codes, whatever the method), tested with the real
# socket.io-client in tests/socketio/.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
root="$(pwd)"
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

venv="$target/schemathesis-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$venv" 2>/dev/null || {
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The binary the tests just built (same features: no rebuild).
cargo build --workspace --all-features --bin support-server
server="$target/debug/support-server"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export JWT_SECRET="schemathesis-$(date +%s%N)-0123456789abcdef"
export DATABASE_URL="sqlite://$work/support.db"
export BIND_ADDR="127.0.0.1:$port"
# Raised, as the benchmark does: the run creates tickets far faster than a
# customer's 20 an hour, and 429s would only hide the rest of the API.
export RATE_LIMITS="caller=100000/1m,ip=100000/1m,create=100000/1h,comment=100000/1h"
"$server" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

customer=$("$server" token --sub 42 --role customer)
staff=$("$server" token --sub 900 --role admin)
url="http://127.0.0.1:$port/openapi.json"
# One worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis
# calls it while describing strategies ("AST constructor recursion depth
# mismatch" with two workers).
# Run from the scratch directory: schemathesis keeps a cache in its
# working directory.
st() {
  (cd "$work" && "$venv/bin/schemathesis" --config-file "$root/.ci/schemathesis.toml" run "$url" \
    --checks all --exclude-path-regex '^/socket\.io' --workers 1 "$@")
}

status=0
echo "== schemathesis (customer token)"
st -H "Authorization: Bearer $customer" --exclude-tag staff --exclude-tag dashboard \
  --max-time 100 || status=1
echo "== schemathesis (staff token)"
st -H "Authorization: Bearer $staff" --include-tag staff --include-tag events \
  --include-tag dashboard --max-time 80 || status=1
if [ "$status" -ne 0 ]; then
  echo "schemathesis found failures; server log:" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
