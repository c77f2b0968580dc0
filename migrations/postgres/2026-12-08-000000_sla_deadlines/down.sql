-- Back to the staff workflow's tickets and events (PostgreSQL). The
-- service's own events (no acting user) and the deadline kinds cannot be
-- kept under the old constraints: they are deleted.
DROP INDEX support_tickets_breached_id_idx;
DROP INDEX support_tickets_next_due_at_id_idx;
DROP INDEX support_tickets_next_timer_at_idx;
DELETE FROM ticket_events
    WHERE actor_id IS NULL
       OR event IN ('support:sla_warning', 'support:sla_breached');
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_event_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_event_check CHECK (event IN (
    'support:ticket_created', 'support:ticket_escalated', 'support:ticket_status_changed',
    'support:ticket_assigned', 'support:comment_added'));
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_actor_id_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_actor_id_check CHECK (actor_id > 0);
ALTER TABLE ticket_events ALTER COLUMN actor_id SET NOT NULL;
ALTER TABLE support_tickets
    DROP COLUMN next_due_at,
    DROP COLUMN next_timer_at,
    DROP COLUMN sla_breached,
    DROP COLUMN sla_warned,
    DROP COLUMN resolution_due_at,
    DROP COLUMN first_response_due_at;
