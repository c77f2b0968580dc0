-- The event log stops storing each event's client payload (SQLite).
-- Kept in step with migrations/postgres.
--
-- The payload is derived from the other columns (actor, ticket, number or
-- status) and nothing read it: readers rebuild it from those columns, so
-- storing it was write-only data.
ALTER TABLE ticket_events DROP COLUMN payload;
