-- The staff workflow and the conversation (PostgreSQL). Kept in step with
-- migrations/sqlite: same columns, constraints and index names.
--
-- A ticket keeps its first response and its resolution; an event keeps
-- what its kind adds and the staff member's note (`details`, JSON written
-- and read by the persistence crate, NULL when there is nothing) and
-- whether only staff may see it (`internal`: the customer reads filter on
-- it); comments get a table of their own.

ALTER TABLE support_tickets
    ADD COLUMN first_responded_at TIMESTAMP NULL,
    ADD COLUMN resolution_type    TEXT      NULL CHECK (resolution_type IN (
                   'refund', 'compensation', 'replacement', 'apology', 'information',
                   'no_action')),
    ADD COLUMN resolution_details TEXT      NULL;

ALTER TABLE ticket_events
    ADD COLUMN details  TEXT    NULL,
    ADD COLUMN internal BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_event_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_event_check CHECK (event IN (
    'support:ticket_created', 'support:ticket_escalated', 'support:ticket_status_changed',
    'support:ticket_assigned', 'support:comment_added'));

CREATE TABLE ticket_comments (
    id          BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
