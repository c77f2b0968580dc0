-- CHECK constraints that list allowed values as `column = 'a' OR ...`
-- instead of `column IN ('a', ...)` (SQLite). Kept in step with
-- migrations/postgres, where this version changes nothing.
--
-- SQLite evaluates a CHECK with an IN list of three or more values by
-- building a temporary index (a b-tree and a zeroed page) at every insert
-- or update of the row: three per ticket created, two per event, a fifth of
-- the instructions of a create (docs/benchmarks.md). An OR chain is a few
-- comparisons. SQLite cannot change a CHECK in place, so both tables are
-- rebuilt with the same columns, constraints (in meaning), indexes and ids.

-- The ids AUTOINCREMENT has handed out so far: a rebuilt table must not
-- hand any out again (retention may have deleted the newest events).
CREATE TEMP TABLE kept_sequence AS
    SELECT name, seq FROM sqlite_sequence WHERE name IN ('support_tickets', 'ticket_events');

-- support_tickets is the parent of points_ledger and ticket_events. With
-- foreign keys on, dropping it counts their rows as (deferred) violations,
-- and putting its rows back into the rebuilt table settles them; a rename
-- of the old table would instead rewrite their references to it.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE support_tickets_rows AS SELECT * FROM support_tickets;
DROP TABLE support_tickets;
CREATE TABLE support_tickets (
    id                INTEGER   PRIMARY KEY AUTOINCREMENT NOT NULL,
    ticket_number     TEXT      NOT NULL,
    customer_id       BIGINT    NOT NULL CHECK (customer_id > 0),
    booking_id        BIGINT    NULL     CHECK (booking_id > 0),
    order_id          BIGINT    NULL     CHECK (order_id > 0),
    issue_type        TEXT      NOT NULL CHECK (issue_type = 'booking_issue' OR issue_type = 'order_issue' OR issue_type = 'payment_issue' OR issue_type = 'table_issue' OR issue_type = 'service_quality' OR issue_type = 'staff_issue' OR issue_type = 'cancellation' OR issue_type = 'other'),
    description       TEXT      NOT NULL,
    status            TEXT      NOT NULL CHECK (status = 'open' OR status = 'in_progress' OR status = 'escalated' OR status = 'resolved' OR status = 'closed'),
    priority          TEXT      NOT NULL CHECK (priority = 'low' OR priority = 'medium' OR priority = 'high' OR priority = 'urgent'),
    assigned_staff_id BIGINT    NULL     CHECK (assigned_staff_id > 0),
    escalation_reason TEXT      NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    escalated_at      TIMESTAMP NULL,
    resolved_at       TIMESTAMP NULL,
    closed_at         TIMESTAMP NULL,
    version           BIGINT    NOT NULL CHECK (version > 0)
);
INSERT INTO support_tickets (id, ticket_number, customer_id, booking_id, order_id, issue_type, description, status, priority, assigned_staff_id, escalation_reason, created_at, updated_at, escalated_at, resolved_at, closed_at, version)
    SELECT id, ticket_number, customer_id, booking_id, order_id, issue_type, description, status, priority, assigned_staff_id, escalation_reason, created_at, updated_at, escalated_at, resolved_at, closed_at, version FROM support_tickets_rows;
DROP TABLE support_tickets_rows;
CREATE UNIQUE INDEX support_tickets_ticket_number_key ON support_tickets (ticket_number);
CREATE INDEX support_tickets_customer_id_id_idx ON support_tickets (customer_id, id);
CREATE INDEX support_tickets_customer_id_status_id_idx ON support_tickets (customer_id, status, id);

-- Nothing references ticket_events: the new table takes its name.
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
    SELECT id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, position FROM ticket_events;
DROP TABLE ticket_events;
ALTER TABLE ticket_events_rebuilt RENAME TO ticket_events;
CREATE INDEX ticket_events_ticket_id_id_idx ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_occurred_at_idx ON ticket_events (occurred_at);
CREATE UNIQUE INDEX ticket_events_position_key ON ticket_events (position);
CREATE INDEX ticket_events_customer_id_position_idx ON ticket_events (customer_id, position);
CREATE INDEX ticket_events_unpositioned_idx ON ticket_events (id) WHERE position IS NULL;

-- Never below what was handed out before.
DELETE FROM sqlite_sequence WHERE name IN ('support_tickets', 'ticket_events')
    AND seq < (SELECT k.seq FROM kept_sequence k WHERE k.name = sqlite_sequence.name);
INSERT INTO sqlite_sequence (name, seq)
    SELECT k.name, k.seq FROM kept_sequence k
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence s WHERE s.name = k.name);
DROP TABLE kept_sequence;
