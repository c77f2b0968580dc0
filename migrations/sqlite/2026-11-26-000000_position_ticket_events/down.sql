DROP INDEX ticket_events_unpositioned_idx;
DROP INDEX ticket_events_customer_id_position_idx;
CREATE INDEX ticket_events_customer_id_id_idx ON ticket_events (customer_id, id);
DROP INDEX ticket_events_position_key;
ALTER TABLE ticket_events DROP COLUMN position;
