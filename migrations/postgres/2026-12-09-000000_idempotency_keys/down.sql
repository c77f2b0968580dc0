-- No idempotency keys (PostgreSQL): the recorded answers are dropped.
DROP TABLE idempotency_keys;
