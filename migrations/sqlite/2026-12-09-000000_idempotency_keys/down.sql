-- No idempotency keys (SQLite): the recorded answers are dropped.
DROP TABLE idempotency_keys;
