-- The durable event log of ticket changes (PostgreSQL).
-- Kept in step with migrations/sqlite: same tables, columns, constraints and
-- index names. Rows are appended in the same transaction as the ticket change
-- they record, so no change exists without its event and vice versa.
--
-- Ids must become visible in id order (a reader that has seen id N never
-- later sees a smaller id commit). A sequence alone does not give that: ids
-- are handed out in start order, not commit order. The application takes a
-- transaction-level advisory lock right before each INSERT, so the next
-- appender draws its id only after this one committed.

CREATE TABLE ticket_events (
    id            BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id     BIGINT    NOT NULL REFERENCES support_tickets (id),
    customer_id   BIGINT    NOT NULL CHECK (customer_id > 0),
    -- Wire name; only state changes are durable (reads are live-only).
    event         TEXT      NOT NULL CHECK (event IN (
                      'support:ticket_created', 'support:ticket_escalated',
                      'support:ticket_status_changed')),
    actor_id      BIGINT    NOT NULL CHECK (actor_id > 0),
    actor_role    TEXT      NOT NULL,
    ticket_number TEXT      NULL,
    status        TEXT      NOT NULL CHECK (status IN (
                      'open', 'in_progress', 'escalated', 'resolved', 'closed')),
    -- The JSON text of the event's documented payload, as clients receive it.
    payload       TEXT      NOT NULL,
    occurred_at   TIMESTAMP NOT NULL
);

-- A customer's events after a position (the customer audience).
CREATE INDEX ticket_events_customer_id_id_idx ON ticket_events (customer_id, id);
-- One ticket's history.
CREATE INDEX ticket_events_ticket_id_id_idx ON ticket_events (ticket_id, id);
-- Retention: events older than a cutoff.
CREATE INDEX ticket_events_occurred_at_idx ON ticket_events (occurred_at);

-- How far retention has removed the log: every event with an id at or below
-- purged_through is gone. Exactly one row. (BIGINT like SQLite's INTEGER
-- PRIMARY KEY, which is the 64-bit rowid, so one diesel schema fits both.)
CREATE TABLE event_log_state (
    id             BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    purged_through BIGINT NOT NULL DEFAULT 0 CHECK (purged_through >= 0)
);

INSERT INTO event_log_state (id, purged_through) VALUES (1, 0);
