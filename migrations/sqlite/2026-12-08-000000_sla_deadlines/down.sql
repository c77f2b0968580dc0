-- Back to the staff workflow's tickets and events (SQLite); ticket_events
-- is rebuilt with the old constraints, keeping ids and the AUTOINCREMENT
-- counter. The service's own events (no acting user) and the deadline
-- kinds cannot be kept under them: they are deleted.
DROP INDEX support_tickets_breached_id_idx;
DROP INDEX support_tickets_next_due_at_id_idx;
DROP INDEX support_tickets_next_timer_at_idx;

CREATE TEMP TABLE kept_sequence AS
    SELECT name, seq FROM sqlite_sequence WHERE name = 'ticket_events';
CREATE TABLE ticket_events_rebuilt (
    id            INTEGER   PRIMARY KEY AUTOINCREMENT NOT NULL,
    ticket_id     BIGINT    NOT NULL REFERENCES support_tickets (id),
    customer_id   BIGINT    NOT NULL CHECK (customer_id > 0),
    event         TEXT      NOT NULL CHECK (event = 'support:ticket_created' OR event = 'support:ticket_escalated' OR event = 'support:ticket_status_changed' OR event = 'support:ticket_assigned' OR event = 'support:comment_added'),
    actor_id      BIGINT    NOT NULL CHECK (actor_id > 0),
    actor_role    TEXT      NOT NULL,
    ticket_number TEXT      NULL,
    status        TEXT      NOT NULL CHECK (status = 'open' OR status = 'in_progress' OR status = 'escalated' OR status = 'resolved' OR status = 'closed'),
    occurred_at   TIMESTAMP NOT NULL,
    position      BIGINT    NULL CHECK (position > 0),
    details       TEXT      NULL,
    internal      BOOLEAN   NOT NULL DEFAULT false
);
INSERT INTO ticket_events_rebuilt (id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, position, details, internal)
    SELECT id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, position, details, internal FROM ticket_events
    WHERE actor_id IS NOT NULL AND event <> 'support:sla_warning' AND event <> 'support:sla_breached';
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

ALTER TABLE support_tickets DROP COLUMN next_due_at;
ALTER TABLE support_tickets DROP COLUMN next_timer_at;
ALTER TABLE support_tickets DROP COLUMN sla_breached;
ALTER TABLE support_tickets DROP COLUMN sla_warned;
ALTER TABLE support_tickets DROP COLUMN resolution_due_at;
ALTER TABLE support_tickets DROP COLUMN first_response_due_at;
