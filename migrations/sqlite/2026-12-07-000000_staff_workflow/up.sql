-- The staff workflow and the conversation (SQLite). Kept in step with
-- migrations/postgres: same columns, constraints (in meaning) and index names.
--
-- A ticket keeps its first response and its resolution; an event keeps
-- what its kind adds and the staff member's note (`details`, JSON written
-- and read by the persistence crate, NULL when there is nothing) and
-- whether only staff may see it (`internal`: the customer reads filter on
-- it); comments get a table of their own. CHECKs on a set of values are OR
-- chains, not IN lists (see 2026-12-06-000001_checks_without_temp_tables).

ALTER TABLE support_tickets ADD COLUMN first_responded_at TIMESTAMP NULL;
ALTER TABLE support_tickets ADD COLUMN resolution_type TEXT NULL
    CHECK (resolution_type = 'refund' OR resolution_type = 'compensation' OR resolution_type = 'replacement' OR resolution_type = 'apology' OR resolution_type = 'information' OR resolution_type = 'no_action');
ALTER TABLE support_tickets ADD COLUMN resolution_details TEXT NULL;

-- The event CHECK admits two more kinds. SQLite cannot change a CHECK in
-- place: ticket_events is rebuilt as 2026-12-06-000001 does, with the same
-- ids, indexes and AUTOINCREMENT counter (retention may have deleted the
-- newest events, whose ids must not come back). Nothing references it.
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
DELETE FROM sqlite_sequence WHERE name = 'ticket_events'
    AND seq < (SELECT k.seq FROM kept_sequence k WHERE k.name = sqlite_sequence.name);
INSERT INTO sqlite_sequence (name, seq)
    SELECT k.name, k.seq FROM kept_sequence k
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence s WHERE s.name = k.name);
DROP TABLE kept_sequence;

CREATE TABLE ticket_comments (
    id          INTEGER   PRIMARY KEY AUTOINCREMENT NOT NULL,
    ticket_id   BIGINT    NOT NULL REFERENCES support_tickets (id),
    author_id   BIGINT    NOT NULL CHECK (author_id > 0),
    author_role TEXT      NOT NULL,
    body        TEXT      NOT NULL,
    internal    BOOLEAN   NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
-- A ticket's conversation, oldest first, from a cursor.
CREATE INDEX ticket_comments_ticket_id_id_idx ON ticket_comments (ticket_id, id);

-- The staff list: any combination of status, priority and assignee (a staff
-- member or nobody), newest first from a cursor (`id < before ORDER BY id
-- DESC LIMIT n`).
--
-- An index ordered (filter, id) returns the rows of one filter value in id
-- order, so a page is read without sorting and stops after `n` rows. Such
-- an index per combination would be seven indexes, each written by every
-- create. Instead each index leads with one filter column, then id, then
-- the other filter columns: a combination seeks on one of its columns and
-- the id bound and checks its other columns on the index entries
-- (PostgreSQL: in the Index Cond; SQLite: before it reads the table row),
-- still in id order. So no combination sorts; what a combination pays
-- instead is the index entries of its leading value that fail its other
-- filters, skipped without reading the table. Every index holds all three
-- filter columns, so whichever of a combination's indexes the planner
-- picks, all its filters are index conditions.
--
-- The assignee is split in two partial indexes: PostgreSQL does not take
-- `IS NULL` as an equality for ordering, so (assignee, id) would sort the
-- unassigned tickets; (id, ...) WHERE assigned_staff_id IS NULL keeps them
-- in id order. Every ticket is in exactly one of the two, so a create (an
-- unassigned ticket) writes three of these four indexes.
CREATE INDEX support_tickets_status_id_idx
    ON support_tickets (status, id, priority, assigned_staff_id);
CREATE INDEX support_tickets_priority_id_idx
    ON support_tickets (priority, id, status, assigned_staff_id);
CREATE INDEX support_tickets_assigned_staff_id_id_idx
    ON support_tickets (assigned_staff_id, id, status, priority)
    WHERE assigned_staff_id IS NOT NULL;
CREATE INDEX support_tickets_unassigned_id_idx
    ON support_tickets (id, status, priority)
    WHERE assigned_staff_id IS NULL;
