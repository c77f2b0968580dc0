-- Positions for the event log (SQLite). Kept in step with
-- migrations/postgres: same columns, constraints and index names.
--
-- Readers resume with "every event after position N". SQLite has one writer
-- at a time (write transactions begin IMMEDIATE), so ids are already in
-- commit order: each write gives its event position = id in its own
-- transaction. (PostgreSQL numbers events after commit; see its migration.)

ALTER TABLE ticket_events ADD COLUMN position BIGINT NULL CHECK (position > 0);
UPDATE ticket_events SET position = id;

-- The log order; at most one event per position.
CREATE UNIQUE INDEX ticket_events_position_key ON ticket_events (position);
-- A customer's events after a position (the customer audience).
DROP INDEX ticket_events_customer_id_id_idx;
CREATE INDEX ticket_events_customer_id_position_idx ON ticket_events (customer_id, position);
-- Unpositioned events (none outlive their transaction here).
CREATE INDEX ticket_events_unpositioned_idx ON ticket_events (id) WHERE position IS NULL;
