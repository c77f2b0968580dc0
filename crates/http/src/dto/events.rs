//! The answer of the event log's polling route (`GET /api/support/events`).

use serde::Serialize;
use support_domain::{EventAudience, EventPage};

use crate::events_view::EventView;

/// `data` of an events page.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EventPage)]
pub struct EventsPage<'a> {
    /// Oldest first, as the caller may see them.
    events: Vec<EventView<'a>>,
    /// The next request's `since`.
    #[schema(minimum = 0, example = 41)]
    next_since: i64,
    /// Retention removed events after `since`: re-read state.
    resync_required: bool,
    /// The first id still kept, when `resyncRequired`.
    #[schema(minimum = 1)]
    oldest: Option<i64>,
}

impl<'a> EventsPage<'a> {
    /// The page `audience` gets. The log reads only what the audience may
    /// see; it is checked again here, where the answer is made.
    pub fn new(page: &'a EventPage, audience: EventAudience) -> Self {
        Self {
            events: page
                .events
                .iter()
                .filter(|stored| audience.sees(&stored.event))
                .map(|stored| EventView::stored(stored, audience))
                .collect(),
            next_since: page.next.get(),
            resync_required: page.resync_from.is_some(),
            oldest: page.resync_from.map(|p| p.get() + 1),
        }
    }
}
