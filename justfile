# Tasks for the support-ticket service. `just --list` shows them.

# Run the service (SQLite by default; set DATABASE_URL for PostgreSQL).
run:
    cargo run --release -p support-server

# Run every test: unit, contract (SQLite and PostgreSQL), HTTP, WebSocket, black-box.
test:
    cargo test --workspace --all-features

# Format check and clippy with warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings

# Apply pending migrations to DATABASE_URL and exit.
migrate:
    cargo run --release -p support-server -- migrate

# Print a token signed with JWT_SECRET, e.g. `just token 42 customer`.
token sub role:
    cargo run --release -p support-server -- token --sub {{sub}} --role {{role}}

# What CI runs.
ci:
    bash .ci/run

# WebSocket fan-out benchmark (1k/5k/10k idle dashboards, then 1k/5k/15k customer sockets under 500 creates/s); writes docs/benchmarks.md.
bench-ws *ARGS:
    #!/usr/bin/env bash
    # p50/p99 commit-to-delivery latency and server RSS per connection; see
    # docs/benchmarks.md. Extra arguments go to ws-bench: `just bench-ws --events 50`,
    # `just bench-ws --connections 0 --customers 15000` (customer mode only).
    set -euo pipefail
    # Two builds, not one: built together, cargo would unify features and give
    # the server awc's actix-http/http2, i.e. not the binary that is deployed.
    cargo build --release -p support-server
    cargo build --release -p support-bench
    # One socket per connection on each side; the server inherits the limit.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    target="${CARGO_TARGET_DIR:-target}/release"
    "$target/ws-bench" "$target/support-server" --markdown docs/benchmarks.md {{ARGS}}

# HTTP API benchmark (limits, then the service on PostgreSQL and SQLite, targets), then the SLA deadline benchmark; writes docs/benchmarks.md.
bench *ARGS:
    #!/usr/bin/env bash
    # Throughput, p50/p99, errors and server RSS per phase, then deadline
    # lateness, exactly-once and idle CPU; see docs/benchmarks.md. Extra
    # arguments go to api-bench: `just bench --duration-secs 20`
    # (`just bench-sla` runs sla-bench alone, with its own arguments).
    set -euo pipefail
    export PATH="$HOME/.cargo/bin:$PATH"
    # The load generator, from crates.io.
    command -v oha >/dev/null || cargo install oha --locked
    # PostgreSQL's client tools (createdb, dropdb, psql) and pgbench (Debian
    # ships it with the server package); sqlite3 seeds and audits sla-bench's
    # SQLite databases.
    if ! command -v psql >/dev/null || ! command -v pgbench >/dev/null || ! command -v sqlite3 >/dev/null; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-client postgresql sqlite3
    fi
    # Two builds, not one: built together, cargo would unify features and give
    # the server awc's actix-http/http2, i.e. not the binary that is deployed.
    cargo build --release -p support-server
    cargo build --release -p support-bench
    target="${CARGO_TARGET_DIR:-target}/release"
    "$target/api-bench" "$target/support-server" --markdown docs/benchmarks.md {{ARGS}}
    "$target/sla-bench" "$target/support-server" --markdown docs/benchmarks.md

# SLA deadline benchmark alone (lateness and exactly-once on SQLite and on two PostgreSQL servers, a burst, idle CPU with 1M deadlines); writes docs/benchmarks.md.
bench-sla *ARGS:
    #!/usr/bin/env bash
    # About 6 minutes; see docs/benchmarks.md. Extra arguments go to
    # sla-bench: `just bench-sla --backends sqlite --measure spread`.
    set -euo pipefail
    if ! command -v psql >/dev/null || ! command -v sqlite3 >/dev/null; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-client sqlite3
    fi
    cargo build --release -p support-server
    cargo build --release -p support-bench
    target="${CARGO_TARGET_DIR:-target}/release"
    "$target/sla-bench" "$target/support-server" --markdown docs/benchmarks.md {{ARGS}}
