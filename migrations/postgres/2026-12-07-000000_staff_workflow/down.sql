-- Back to the seed's tickets and events (PostgreSQL). Events of the kinds
-- this version added cannot be kept under the old CHECK: they are deleted.
DROP INDEX support_tickets_unassigned_id_idx;
DROP INDEX support_tickets_assigned_staff_id_id_idx;
DROP INDEX support_tickets_priority_id_idx;
DROP INDEX support_tickets_status_id_idx;
DROP TABLE ticket_comments;
DELETE FROM ticket_events
    WHERE event IN ('support:ticket_assigned', 'support:comment_added');
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_event_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_event_check CHECK (event IN (
    'support:ticket_created', 'support:ticket_escalated', 'support:ticket_status_changed'));
ALTER TABLE ticket_events DROP COLUMN internal, DROP COLUMN details;
ALTER TABLE support_tickets
    DROP COLUMN resolution_details,
    DROP COLUMN resolution_type,
    DROP COLUMN first_responded_at;
