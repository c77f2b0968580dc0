-- Support tickets and the points ledger (PostgreSQL).
-- Kept in step with migrations/sqlite: same tables, columns, constraints and
-- index names. Timestamps are `TIMESTAMP` (without time zone) holding UTC,
-- written by the application, never by defaults.

CREATE TABLE support_tickets (
    id                BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_number     TEXT      NOT NULL,
    customer_id       BIGINT    NOT NULL CHECK (customer_id > 0),
    booking_id        BIGINT    NULL     CHECK (booking_id > 0),
    order_id          BIGINT    NULL     CHECK (order_id > 0),
    issue_type        TEXT      NOT NULL CHECK (issue_type IN (
                          'booking_issue', 'order_issue', 'payment_issue', 'table_issue',
                          'service_quality', 'staff_issue', 'cancellation', 'other')),
    description       TEXT      NOT NULL,
    status            TEXT      NOT NULL CHECK (status IN (
                          'open', 'in_progress', 'escalated', 'resolved', 'closed')),
    priority          TEXT      NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    assigned_staff_id BIGINT    NULL     CHECK (assigned_staff_id > 0),
    escalation_reason TEXT      NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    escalated_at      TIMESTAMP NULL,
    resolved_at       TIMESTAMP NULL,
    closed_at         TIMESTAMP NULL,
    version           BIGINT    NOT NULL CHECK (version > 0)
);

-- The error classifier recognises duplicates by this index's name.
CREATE UNIQUE INDEX support_tickets_ticket_number_key ON support_tickets (ticket_number);
-- A customer's tickets, newest first, with and without a status filter.
CREATE INDEX support_tickets_customer_id_id_idx ON support_tickets (customer_id, id);
CREATE INDEX support_tickets_customer_id_status_id_idx ON support_tickets (customer_id, status, id);

CREATE TABLE points_ledger (
    id         BIGINT    GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT    NOT NULL CHECK (user_id > 0),
    action     TEXT      NOT NULL CHECK (length(action) > 0),
    points     INTEGER   NOT NULL,
    ticket_id  BIGINT    NOT NULL REFERENCES support_tickets (id),
    created_at TIMESTAMP NOT NULL
);

-- At most one award per action and ticket (ON CONFLICT target).
CREATE UNIQUE INDEX points_ledger_ticket_id_action_key ON points_ledger (ticket_id, action);
