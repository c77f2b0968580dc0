-- The column comes back empty: the payloads of the events stored meanwhile
-- are not rebuilt (readers never read them).
ALTER TABLE ticket_events ADD COLUMN payload TEXT NOT NULL DEFAULT '';
