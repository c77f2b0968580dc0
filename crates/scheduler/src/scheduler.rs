//! The timer loop: look at the due-time index, fire what is due, sleep
//! until the next due time (or a wake, or the safety cap), again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use support_domain::SupportService;
use support_domain::ports::Clock;
use tokio::task::JoinHandle;

use crate::alarm::Alarm;

/// How the loop paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerSettings {
    /// Tickets fired per round (one `save_fired` transaction); a full
    /// round is followed by another at once.
    pub batch: u32,
    /// Longest sleep: the safety net for a wake that never came (another
    /// instance's notification lost, the clock stepped).
    pub max_sleep: Duration,
    /// Pause after a storage error before trying again.
    pub error_backoff: Duration,
    /// Pause after a wake before looking, so a burst of commits costs one
    /// look, not one per commit. Only wakes pay it; a timer's own due time
    /// does not.
    pub wake_coalesce: Duration,
    /// Pause when something is due yet the last round fired nothing: a
    /// ticket whose timer cannot fire must not make the loop spin.
    pub stall_pause: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            batch: 500,
            max_sleep: Duration::from_secs(60),
            error_backoff: Duration::from_secs(1),
            wake_coalesce: Duration::from_millis(20),
            stall_pause: Duration::from_millis(250),
        }
    }
}

/// The task that fires the service's SLA timers on time.
pub struct Scheduler {
    service: SupportService,
    clock: Arc<dyn Clock>,
    alarm: Alarm,
    settings: SchedulerSettings,
}

/// What one look decided.
enum Next {
    /// Sleep this long (unless woken).
    Sleep(Duration),
    /// Something was due: look again at once, unless the last round made
    /// no progress (then pause).
    Fired { progress: bool },
}

impl Scheduler {
    /// A scheduler over `service`, reading the time from `clock` (the
    /// service's own), woken by `alarm`.
    pub fn new(service: SupportService, clock: Arc<dyn Clock>, alarm: Alarm) -> Self {
        Self {
            service,
            clock,
            alarm,
            settings: SchedulerSettings::default(),
        }
    }

    /// The same scheduler paced by `settings`.
    pub fn with_settings(self, settings: SchedulerSettings) -> Self {
        Self { settings, ..self }
    }

    /// Runs on the current tokio runtime until the task is aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run_until(std::future::pending()))
    }

    /// Runs until `shutdown` resolves (checked whenever the loop waits; a
    /// round in progress is finished first, so no fired batch is left
    /// half-announced).
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut last_fire_progressed = true;
        loop {
            let wait = match self.look().await {
                Next::Sleep(wait) => {
                    last_fire_progressed = true;
                    wait
                }
                Next::Fired { progress } => {
                    // A due ticket right after a round that fired nothing
                    // would make the loop spin: pause (a wake still cuts
                    // the pause short).
                    let wait = if progress || last_fire_progressed {
                        Duration::ZERO
                    } else {
                        self.settings.stall_pause
                    };
                    last_fire_progressed = progress;
                    wait
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
                () = self.alarm.rung() => {
                    tokio::select! {
                        biased;
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(self.settings.wake_coalesce) => {}
                    }
                }
            }
        }
    }

    /// Reads the earliest due time; fires what is due, or says how long to
    /// sleep.
    async fn look(&self) -> Next {
        self.alarm.clear().await;
        let next = match self.service.next_timer_at().await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, "SLA scheduler: cannot read the next due time; retrying");
                return Next::Sleep(self.settings.error_backoff);
            }
        };
        let now = self.clock.now();
        match next {
            Some(at) if at <= now => self.fire().await,
            Some(at) => Next::Sleep(until(at, now).min(self.settings.max_sleep)),
            None => Next::Sleep(self.settings.max_sleep),
        }
    }

    /// Fires rounds until one is not full.
    async fn fire(&self) -> Next {
        loop {
            match self.service.fire_due_timers(self.settings.batch).await {
                Ok(round) => {
                    if round.due > 0 {
                        tracing::debug!(
                            due = round.due,
                            events = round.events,
                            lost = round.lost,
                            "SLA scheduler: fired due timers"
                        );
                    }
                    if !round.more {
                        return Next::Fired {
                            progress: round.events > 0 || round.lost > 0,
                        };
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "SLA scheduler: cannot fire due timers; retrying");
                    return Next::Sleep(self.settings.error_backoff);
                }
            }
        }
    }
}

/// The time from `now` to `at`, rounded up to the millisecond (the timer's
/// resolution), so the wake is never before the due time.
fn until(at: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let micros = (at - now).num_microseconds().unwrap_or(i64::MAX).max(0);
    let millis = u64::try_from(micros).unwrap_or(u64::MAX).div_ceil(1000);
    Duration::from_millis(millis)
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
