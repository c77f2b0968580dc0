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
