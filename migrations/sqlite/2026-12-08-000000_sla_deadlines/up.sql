-- Service-level deadlines (SQLite). Kept in step with migrations/postgres:
-- same columns, constraints (in meaning) and index names.
--
-- A ticket keeps its two deadlines, which metrics were warned about and
-- which breached (bit sets: 1 first response, 2 resolution), when its next
-- timer is due (a warning, a breach or the auto-close of a resolved
-- ticket; NULL when nothing is pending) and its nearest unfulfilled
-- deadline (NULL when every target is fulfilled), both planned by the
-- domain on every change.
--
-- Existing tickets get the deadlines of the default policy for their
-- priority, counted from their creation, and every ticket that is not
-- closed gets `next_timer_at = created_at`: the scheduler finds them due
-- on its first round and plans them under the policy in force (which may
-- differ from the default), firing what already passed.
--
-- SQLite adds a NOT NULL column only with a default; the backfill below
-- replaces it, and the service always writes both deadlines.

ALTER TABLE support_tickets ADD COLUMN first_response_due_at TIMESTAMP NOT NULL
    DEFAULT '1970-01-01 00:00:00';
ALTER TABLE support_tickets ADD COLUMN resolution_due_at TIMESTAMP NOT NULL
    DEFAULT '1970-01-01 00:00:00';
ALTER TABLE support_tickets ADD COLUMN sla_warned INTEGER NOT NULL DEFAULT 0
    CHECK (sla_warned >= 0 AND sla_warned <= 3);
ALTER TABLE support_tickets ADD COLUMN sla_breached INTEGER NOT NULL DEFAULT 0
    CHECK (sla_breached >= 0 AND sla_breached <= 3);
ALTER TABLE support_tickets ADD COLUMN next_timer_at TIMESTAMP NULL;
ALTER TABLE support_tickets ADD COLUMN next_due_at TIMESTAMP NULL;

-- Whole hours leave the fraction of a second as it is: the whole seconds
-- (the first 19 characters, `YYYY-MM-DD HH:MM:SS`) are moved, and the
-- stored fraction (the optional `.ffffff`) is appended as it was; SQLite's
-- date functions would round it to milliseconds (and .9999995 up to the
-- next second).
UPDATE support_tickets SET
    first_response_due_at = strftime('%Y-%m-%d %H:%M:%S', substr(created_at, 1, 19), CASE priority
        WHEN 'urgent' THEN '+1 hours'
        WHEN 'high' THEN '+4 hours'
        WHEN 'medium' THEN '+8 hours'
        ELSE '+24 hours' END) || substr(created_at, 20),
    resolution_due_at = strftime('%Y-%m-%d %H:%M:%S', substr(created_at, 1, 19), CASE priority
        WHEN 'urgent' THEN '+4 hours'
        WHEN 'high' THEN '+24 hours'
        WHEN 'medium' THEN '+48 hours'
        ELSE '+72 hours' END) || substr(created_at, 20),
    next_timer_at = CASE WHEN status <> 'closed' THEN created_at END;
-- A first response is fulfilled by a public staff comment or by the ticket
-- being resolved or closed; a resolution by being resolved or closed.
UPDATE support_tickets SET next_due_at = CASE
    WHEN resolved_at IS NOT NULL OR closed_at IS NOT NULL THEN NULL
    WHEN first_responded_at IS NULL AND first_response_due_at < resolution_due_at
        THEN first_response_due_at
    ELSE resolution_due_at END;

-- The service's own events (an SLA timer's) have no acting user: actor_id
-- NULL, role 'system'; and two more kinds are durable (staff only).
-- SQLite cannot change a column or a CHECK in place: ticket_events is
-- rebuilt as 2026-12-07-000000_staff_workflow does, with the same ids,
-- indexes and AUTOINCREMENT counter (retention may have deleted the
-- newest events, whose ids must not come back). Nothing references it.
CREATE TEMP TABLE kept_sequence AS
    SELECT name, seq FROM sqlite_sequence WHERE name = 'ticket_events';
CREATE TABLE ticket_events_rebuilt (
    id            INTEGER   PRIMARY KEY AUTOINCREMENT NOT NULL,
    ticket_id     BIGINT    NOT NULL REFERENCES support_tickets (id),
    customer_id   BIGINT    NOT NULL CHECK (customer_id > 0),
    event         TEXT      NOT NULL CHECK (event = 'support:ticket_created' OR event = 'support:ticket_escalated' OR event = 'support:ticket_status_changed' OR event = 'support:ticket_assigned' OR event = 'support:comment_added' OR event = 'support:sla_warning' OR event = 'support:sla_breached'),
    actor_id      BIGINT    NULL CHECK ((actor_id > 0) OR (actor_id IS NULL AND actor_role = 'system')),
    actor_role    TEXT      NOT NULL,
    ticket_number TEXT      NULL,
    status        TEXT      NOT NULL CHECK (status = 'open' OR status = 'in_progress' OR status = 'escalated' OR status = 'resolved' OR status = 'closed'),
    occurred_at   TIMESTAMP NOT NULL,
    position      BIGINT    NULL CHECK (position > 0),
    details       TEXT      NULL,
    internal      BOOLEAN   NOT NULL DEFAULT false
);
INSERT INTO ticket_events_rebuilt (id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, position, details, internal)
    SELECT id, ticket_id, customer_id, event, actor_id, actor_role, ticket_number, status, occurred_at, position, details, internal FROM ticket_events;
DROP TABLE ticket_events;
ALTER TABLE ticket_events_rebuilt RENAME TO ticket_events;
CREATE INDEX ticket_events_ticket_id_id_idx ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_occurred_at_idx ON ticket_events (occurred_at);
CREATE UNIQUE INDEX ticket_events_position_key ON ticket_events (position);
CREATE INDEX ticket_events_customer_id_position_idx ON ticket_events (customer_id, position);
CREATE INDEX ticket_events_unpositioned_idx ON ticket_events (id) WHERE position IS NULL;
-- Never below what was handed out before.
DELETE FROM sqlite_sequence WHERE name = 'ticket_events'
    AND seq < (SELECT k.seq FROM kept_sequence k WHERE k.name = sqlite_sequence.name);
INSERT INTO sqlite_sequence (name, seq)
    SELECT k.name, k.seq FROM kept_sequence k
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence s WHERE s.name = k.name);
DROP TABLE kept_sequence;

-- The scheduler: the due tickets earliest first (`next_timer_at <= now
-- ORDER BY next_timer_at LIMIT n`) and the earliest pending timer (the
-- first entry), every round. Partial: only tickets with a pending timer are
-- in it (closed tickets, the bulk of an old table, are not), so it stays
-- small, and a ticket leaves it when nothing is left to fire.
CREATE INDEX support_tickets_next_timer_at_idx
    ON support_tickets (next_timer_at)
    WHERE next_timer_at IS NOT NULL;
-- The staff list by deadline (`sort=due`): nearest unfulfilled deadline
-- first, keyset-paged on (next_due_at, id), so a page is an index range
-- read in order, without a sort. Tickets with every target fulfilled are
-- not listed and not indexed.
CREATE INDEX support_tickets_next_due_at_id_idx
    ON support_tickets (next_due_at, id)
    WHERE next_due_at IS NOT NULL;
-- The staff list of breached tickets (`breached=true`), newest first by
-- id: few tickets breach, so this index is small and a page is read in id
-- order from it. (`breached=false`, most tickets, reads the other indexes
-- and checks the column.)
CREATE INDEX support_tickets_breached_id_idx
    ON support_tickets (id)
    WHERE sla_breached <> 0;
