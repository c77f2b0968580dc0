-- Commit-ordered positions for the event log (PostgreSQL), without making
-- writers take turns. Kept in step with migrations/sqlite: same columns,
-- constraints and index names.
--
-- Readers resume with "every event after position N", so positions must
-- become visible in position order. An identity value cannot give that by
-- itself: ids are drawn in start order, not commit order. Writers therefore
-- insert events unpositioned (position NULL) and commit on their own;
-- support_position_events(), called right after, numbers every committed
-- unpositioned event. Calls take turns (a transaction-level advisory lock,
-- released only after the call's commit is visible), so each call's
-- positions are above every position an earlier call made visible.

ALTER TABLE ticket_events ADD COLUMN position BIGINT NULL CHECK (position > 0);
UPDATE ticket_events SET position = id;

-- The log order; at most one event per position.
CREATE UNIQUE INDEX ticket_events_position_key ON ticket_events (position);
-- A customer's events after a position (the customer audience).
DROP INDEX ticket_events_customer_id_id_idx;
CREATE INDEX ticket_events_customer_id_position_idx ON ticket_events (customer_id, position);
-- What the next call of support_position_events() numbers.
CREATE INDEX ticket_events_unpositioned_idx ON ticket_events (id) WHERE position IS NULL;

-- Numbers every committed unpositioned event in id order after the highest
-- position given so far (or purged: retention never lowers the start), wakes
-- other instances (pg_notify with the newest position, delivered on commit)
-- and returns the positions of the `wanted` event ids, whoever numbered them.
-- VOLATILE, so every statement sees what committed before it ran: after the
-- lock, that includes the previous call's positions.
--
-- Numbering leaves a dead entry in ticket_events_unpositioned_idx for every
-- event until VACUUM. A plain index scan marks such entries dead as it
-- passes them, so each costs one visit; a bitmap scan (the planner's choice
-- for a small estimate) never does, and would revisit every one of them on
-- every call (measured: 3 ms for 40 events after 12,800 numbered, 0.1 ms
-- with the index scan). Hence the planner settings. The lock is only ever
-- held for one short call; should a session keep it (a stuck client holding
-- it by hand), calls fail after lock_timeout instead of making every writer
-- wait forever, and the next call numbers what they left.
CREATE FUNCTION support_position_events(wanted BIGINT[])
RETURNS TABLE (event_id BIGINT, event_position BIGINT)
LANGUAGE plpgsql VOLATILE
SET enable_bitmapscan = off
SET enable_seqscan = off
SET lock_timeout = '5s'
AS $$
DECLARE
    base BIGINT;
    newest BIGINT;
BEGIN
    -- Under REPEATABLE READ or SERIALIZABLE (a database or role default) the
    -- snapshot would predate the lock, and the previous call's positions.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'support_position_events() needs READ COMMITTED, not %',
            current_setting('transaction_isolation');
    END IF;
    -- "SUPPORT" plus 0x02 (the migration lock uses 0x01).
    PERFORM pg_advisory_xact_lock(6004793984026825730);
    SELECT greatest(
               coalesce(max(e.position), 0),
               (SELECT s.purged_through FROM event_log_state s WHERE s.id = 1))
      INTO base
      FROM ticket_events e;
    WITH batch AS (
        SELECT e.id, base + row_number() OVER (ORDER BY e.id) AS numbered
          FROM ticket_events e
         WHERE e.position IS NULL
         ORDER BY e.id
    )
    UPDATE ticket_events e
       SET position = batch.numbered
      FROM batch
     WHERE e.id = batch.id;
    IF FOUND THEN
        SELECT max(e.position) INTO newest FROM ticket_events e;
        PERFORM pg_notify('support_ticket_events', newest::text);
    END IF;
    RETURN QUERY
        SELECT e.id, e.position FROM ticket_events e WHERE e.id = ANY (wanted);
END
$$;
