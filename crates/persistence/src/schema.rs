//! The diesel schema shared by both backends.
//!
//! Written by hand with portable SQL types only (`BigInt`, `Integer`, `Text`,
//! `Timestamp`, `Bool`, `Binary`), so one set of queries compiles for SQLite
//! and PostgreSQL.
//! `tests/schema/` checks it against both migrated databases.

diesel::table! {
    /// One row per support ticket.
    support_tickets (id) {
        /// Store-assigned primary key.
        id -> BigInt,
        /// Unique human-facing number (`TKT-123456-AB12CD`).
        ticket_number -> Text,
        /// Owner; every query filters on it.
        customer_id -> BigInt,
        /// Booking the ticket is about.
        booking_id -> Nullable<BigInt>,
        /// In-dining order the ticket is about.
        order_id -> Nullable<BigInt>,
        /// Snake-case issue type.
        issue_type -> Text,
        /// The customer's text.
        description -> Text,
        /// Snake-case status.
        status -> Text,
        /// Snake-case priority.
        priority -> Text,
        /// Staff member handling it.
        assigned_staff_id -> Nullable<BigInt>,
        /// Why the customer escalated.
        escalation_reason -> Nullable<Text>,
        /// Creation time, UTC.
        created_at -> Timestamp,
        /// Last change, UTC.
        updated_at -> Timestamp,
        /// Escalation time, UTC.
        escalated_at -> Nullable<Timestamp>,
        /// Resolution time, UTC.
        resolved_at -> Nullable<Timestamp>,
        /// Closing time, UTC.
        closed_at -> Nullable<Timestamp>,
        /// Optimistic-concurrency version.
        version -> BigInt,
        /// Time of the first public staff comment, UTC.
        first_responded_at -> Nullable<Timestamp>,
        /// Snake-case resolution type, while resolved (or closed after).
        resolution_type -> Nullable<Text>,
        /// What staff wrote about the resolution; set with `resolution_type`.
        resolution_details -> Nullable<Text>,
        /// When the first response is due, UTC.
        first_response_due_at -> Timestamp,
        /// When the resolution is due, UTC.
        resolution_due_at -> Timestamp,
        /// Metrics whose warning went out (bit 1 first response, 2 resolution).
        sla_warned -> Integer,
        /// Metrics whose deadline passed unmet (same bits).
        sla_breached -> Integer,
        /// When the ticket's next timer is due (the scheduler's index), UTC.
        next_timer_at -> Nullable<Timestamp>,
        /// The nearest unfulfilled deadline (what `sort=due` orders by), UTC.
        next_due_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Loyalty points granted for support actions, at most once per ticket and action.
    points_ledger (id) {
        /// Store-assigned primary key.
        id -> BigInt,
        /// Who earned the points.
        user_id -> BigInt,
        /// Gamification action name.
        action -> Text,
        /// How many points.
        points -> Integer,
        /// The ticket that earned them.
        ticket_id -> BigInt,
        /// When they were granted, UTC.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// The durable event log: one row per ticket change, appended in the
    /// change's transaction, read in `position` order.
    ticket_events (id) {
        /// The row's own key, in insert order (not the log order).
        id -> BigInt,
        /// The ticket the event is about.
        ticket_id -> BigInt,
        /// The ticket's owner, for the customer audience filter.
        customer_id -> BigInt,
        /// Wire name (`support:ticket_created`, `support:ticket_escalated`).
        event -> Text,
        /// Who caused it; NULL for the service itself (role `system`).
        actor_id -> Nullable<BigInt>,
        /// The actor's role claim.
        actor_role -> Text,
        /// Set on creation events.
        ticket_number -> Nullable<Text>,
        /// The ticket's status after the event.
        status -> Text,
        /// When it happened, UTC.
        occurred_at -> Timestamp,
        /// Its place in the log, the id clients see: positions become visible
        /// in position order. `NULL` only between a PostgreSQL write's commit
        /// and its numbering (see `crate::postgres::sequencer`); readers skip it.
        position -> Nullable<BigInt>,
        /// JSON of what the kind adds and the staff note (see
        /// `crate::rows::event_details`); NULL when there is nothing.
        details -> Nullable<Text>,
        /// Only staff may see it (an internal comment): customer reads skip it.
        internal -> Bool,
    }
}

diesel::table! {
    /// The conversation on tickets, one row per comment.
    ticket_comments (id) {
        /// Store-assigned primary key; orders a ticket's conversation.
        id -> BigInt,
        /// The ticket it is on.
        ticket_id -> BigInt,
        /// Who wrote it.
        author_id -> BigInt,
        /// The author's role claim.
        author_role -> Text,
        /// The text.
        body -> Text,
        /// Staff only: hidden from the customer.
        internal -> Bool,
        /// When it was written, UTC.
        created_at -> Timestamp,
    }
}

diesel::table! {
    /// Retention bookkeeping of the event log; exactly one row (`id = 1`).
    event_log_state (id) {
        /// Always 1.
        id -> BigInt,
        /// Every event with a position at or below this was purged.
        purged_through -> BigInt,
    }
}

diesel::table! {
    /// The answers of keyed requests (idempotency keys), one per caller and
    /// key, replayed to retries until they expire.
    idempotency_keys (caller_role, caller_id, idempotency_key) {
        /// The caller's role claim.
        caller_role -> Text,
        /// The caller's user id.
        caller_id -> BigInt,
        /// The client's `Idempotency-Key`, as sent.
        idempotency_key -> Text,
        /// What the answered request asked for (its method, path and body, hashed).
        fingerprint -> Text,
        /// The answer's status code.
        status -> Integer,
        /// The answer's headers: a JSON array of `[name, value]` pairs, in
        /// order (see `crate::rows::answer`).
        headers -> Text,
        /// The answer's body, byte for byte.
        body -> Binary,
        /// When it was recorded, UTC.
        recorded_at -> Timestamp,
        /// When it expires (the purge's index), UTC.
        expires_at -> Timestamp,
    }
}

diesel::joinable!(points_ledger -> support_tickets (ticket_id));
diesel::joinable!(ticket_events -> support_tickets (ticket_id));
diesel::joinable!(ticket_comments -> support_tickets (ticket_id));
diesel::allow_tables_to_appear_in_same_query!(
    support_tickets,
    points_ledger,
    ticket_events,
    ticket_comments,
    event_log_state,
    idempotency_keys
);
