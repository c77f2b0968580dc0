-- Idempotency keys (SQLite). Kept in step with migrations/postgres: same
-- columns, constraints (in meaning) and index names.
--
-- The answer a keyed request got, per caller (role and user id) and key,
-- written in the transaction of the change it reports (or on its own for a
-- request that stored nothing) and replayed to retries until it expires.
-- `headers` is a JSON array of [name, value] pairs, in order; `body` the
-- answer's bytes. Only the persistence crate writes and reads them. The
-- primary key's columns are NOT NULL explicitly: SQLite would otherwise
-- accept NULL in a primary key that is not the rowid.
CREATE TABLE idempotency_keys (
    caller_role     TEXT      NOT NULL CHECK (length(caller_role) > 0),
    caller_id       BIGINT    NOT NULL CHECK (caller_id > 0),
    idempotency_key TEXT      NOT NULL
                              CHECK (length(idempotency_key) >= 1 AND length(idempotency_key) <= 255),
    fingerprint     TEXT      NOT NULL CHECK (length(fingerprint) > 0),
    status          INTEGER   NOT NULL CHECK (status >= 100 AND status <= 599),
    headers         TEXT      NOT NULL,
    body            BLOB      NOT NULL,
    recorded_at     TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (caller_role, caller_id, idempotency_key)
);

-- The purge of expired answers (`expires_at <= now`), every few minutes.
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
