-- Service-level deadlines (PostgreSQL). Kept in step with migrations/sqlite:
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

ALTER TABLE support_tickets
    ADD COLUMN first_response_due_at TIMESTAMP NULL,
    ADD COLUMN resolution_due_at     TIMESTAMP NULL,
    ADD COLUMN sla_warned            INTEGER   NOT NULL DEFAULT 0
                                     CHECK (sla_warned >= 0 AND sla_warned <= 3),
    ADD COLUMN sla_breached          INTEGER   NOT NULL DEFAULT 0
                                     CHECK (sla_breached >= 0 AND sla_breached <= 3),
    ADD COLUMN next_timer_at         TIMESTAMP NULL,
    ADD COLUMN next_due_at           TIMESTAMP NULL;

UPDATE support_tickets SET
    first_response_due_at = created_at + CASE priority
        WHEN 'urgent' THEN INTERVAL '1 hour'
        WHEN 'high' THEN INTERVAL '4 hours'
        WHEN 'medium' THEN INTERVAL '8 hours'
        ELSE INTERVAL '24 hours' END,
    resolution_due_at = created_at + CASE priority
        WHEN 'urgent' THEN INTERVAL '4 hours'
        WHEN 'high' THEN INTERVAL '24 hours'
        WHEN 'medium' THEN INTERVAL '48 hours'
        ELSE INTERVAL '72 hours' END,
    next_timer_at = CASE WHEN status <> 'closed' THEN created_at END;
-- A first response is fulfilled by a public staff comment or by the ticket
-- being resolved or closed; a resolution by being resolved or closed.
UPDATE support_tickets SET next_due_at = CASE
    WHEN resolved_at IS NOT NULL OR closed_at IS NOT NULL THEN NULL
    WHEN first_responded_at IS NULL AND first_response_due_at < resolution_due_at
        THEN first_response_due_at
    ELSE resolution_due_at END;

ALTER TABLE support_tickets
    ALTER COLUMN first_response_due_at SET NOT NULL,
    ALTER COLUMN resolution_due_at SET NOT NULL;

-- The service's own events (an SLA timer's) have no acting user: actor_id
-- NULL, role 'system'; and two more kinds are durable (staff only).
ALTER TABLE ticket_events ALTER COLUMN actor_id DROP NOT NULL;
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_actor_id_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_actor_id_check
    CHECK ((actor_id > 0) OR (actor_id IS NULL AND actor_role = 'system'));
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_event_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_event_check CHECK (event IN (
    'support:ticket_created', 'support:ticket_escalated', 'support:ticket_status_changed',
    'support:ticket_assigned', 'support:comment_added', 'support:sla_warning',
    'support:sla_breached'));

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
