-- Back to the seed's tickets and events (SQLite); ticket_events is rebuilt
-- with the old CHECK, keeping ids and the AUTOINCREMENT counter. Events of
-- the kinds this version added cannot be kept under it: they are deleted.
DROP INDEX support_tickets_unassigned_id_idx;
DROP INDEX support_tickets_assigned_staff_id_id_idx;
DROP INDEX support_tickets_priority_id_idx;
DROP INDEX support_tickets_status_id_idx;
DROP TABLE ticket_comments;

CREATE TEMP TABLE kept_sequence AS
    SELECT name, seq FROM sqlite_sequence WHERE name = 'ticket_events';
CREATE TABLE ticket_events_rebuilt (
    id            INTEGER   PRIMARY KEY AUTOINCREMENT NOT NULL,
    ticket_id     BIGINT    NOT NULL REFERENCES support_tickets (id),
    customer_id   BIGINT    NOT NULL CHECK (customer_id > 0),
    event         TEXT      NOT NULL CHECK (event = 'support:ticket_created' OR event = 'support:ticket_escalated' OR event = 'support:ticket_status_changed'),
    actor_id      BIGINT    NOT NULL CHECK (actor_id > 0),
    actor_role    TEXT      NOT NULL,
    ticket_number TEXT      NULL,
    status        TEXT      NOT NULL CHECK (status = 'open' OR status = 'in_progress' OR status = 'escalated' OR status = 'resolved' OR status = 'closed'),
    occurred_at   TIMESTAMP NOT NULL,
    position      BIGINT    NULL CHECK (position > 0)
);
INSERT INTO ticket_events_rebuilt (id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, position)
    SELECT id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, position FROM ticket_events
    WHERE event <> 'support:ticket_assigned' AND event <> 'support:comment_added';
DROP TABLE ticket_events;
ALTER TABLE ticket_events_rebuilt RENAME TO ticket_events;
CREATE INDEX ticket_events_ticket_id_id_idx ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_occurred_at_idx ON ticket_events (occurred_at);
CREATE UNIQUE INDEX ticket_events_position_key ON ticket_events (position);
CREATE INDEX ticket_events_customer_id_position_idx ON ticket_events (customer_id, position);
CREATE INDEX ticket_events_unpositioned_idx ON ticket_events (id) WHERE position IS NULL;
DELETE FROM sqlite_sequence WHERE name = 'ticket_events'
    AND seq < (SELECT k.seq FROM kept_sequence k WHERE k.name = sqlite_sequence.name);
INSERT INTO sqlite_sequence (name, seq)
    SELECT k.name, k.seq FROM kept_sequence k
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence s WHERE s.name = k.name);
DROP TABLE kept_sequence;

ALTER TABLE support_tickets DROP COLUMN resolution_details;
ALTER TABLE support_tickets DROP COLUMN resolution_type;
ALTER TABLE support_tickets DROP COLUMN first_responded_at;
