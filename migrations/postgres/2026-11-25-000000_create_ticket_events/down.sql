DROP TABLE event_log_state;
DROP TABLE ticket_events;
