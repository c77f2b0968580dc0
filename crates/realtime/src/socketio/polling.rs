//! Long-polling: what a session holds for its next `GET`, and how a poll
//! takes it.
//!
//! The session's task pushes packets into a bounded queue; a `GET` waits for
//! packets and takes all there are. A full queue makes the task wait (at
//! most its send timeout, then the client is dropped as too slow), so memory
//! does not grow with a client that stopped polling. One poll at a time:
//! a second concurrent `GET` is refused.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::engine::{CLOSE, NOOP};

/// The packets waiting for a session's next poll.
#[derive(Debug)]
pub(crate) struct PollQueue {
    state: Mutex<State>,
    /// Packets arrived, or the queue closed.
    readable: Notify,
    /// A poll took packets: room again.
    writable: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    packets: VecDeque<Arc<str>>,
    polling: bool,
    closed: bool,
    /// A poll has taken the close packet: the client knows.
    close_taken: bool,
}

/// Why a poll got nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollError {
    /// Another poll of the same session is waiting.
    Overlap,
}

/// The queue is closed: the session is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

impl PollQueue {
    /// A queue holding at most `capacity` packets (control packets aside).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::default(),
            readable: Notify::new(),
            writable: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change is a single push, drain or flag: a panic elsewhere
        // cannot leave the state half-changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `packet`, waiting for room while the queue is full.
    pub(crate) async fn push(&self, packet: Arc<str>) -> Result<(), Closed> {
        loop {
            let room = self.writable.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.lock();
                if state.closed {
                    return Err(Closed);
                }
                if state.packets.len() < self.capacity {
                    state.packets.push_back(packet);
                    drop(state);
                    self.readable.notify_one();
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// Queues a control packet now, even when the queue is full.
    pub(crate) fn push_now(&self, packet: &str) {
        let mut state = self.lock();
        if !state.closed {
            state.packets.push_back(packet.into());
            drop(state);
            self.readable.notify_one();
        }
    }

    /// Waits for packets and takes them all; when the queue is closed the
    /// last poll ends with a close packet.
    pub(crate) async fn poll(&self) -> Result<Vec<Arc<str>>, PollError> {
        {
            let mut state = self.lock();
            if state.polling {
                return Err(PollError::Overlap);
            }
            state.polling = true;
        }
        let _polling = Polling(self);
        loop {
            let arrived = self.readable.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            {
                let mut state = self.lock();
                if !state.packets.is_empty() || state.closed {
                    let mut packets: Vec<Arc<str>> = state.packets.drain(..).collect();
                    if state.closed {
                        packets.push(CLOSE.into());
                        state.close_taken = true;
                    }
                    drop(state);
                    self.writable.notify_waiters();
                    return Ok(packets);
                }
            }
            arrived.await;
        }
    }

    /// Takes what the polls did not (the session moves to a WebSocket);
    /// no-ops are dropped.
    pub(crate) fn take_all(&self) -> Vec<Arc<str>> {
        let mut state = self.lock();
        let packets = state.packets.drain(..).filter(|p| &**p != NOOP).collect();
        drop(state);
        self.writable.notify_waiters();
        packets
    }

    /// Resolves once a poll took the close packet (after everything else).
    pub(crate) async fn close_taken(&self) {
        loop {
            let taken = self.writable.notified();
            tokio::pin!(taken);
            taken.as_mut().enable();
            if self.lock().close_taken {
                return;
            }
            taken.await;
        }
    }

    /// Ends the session's queue: pending and later polls get what is left,
    /// then a close packet; pushes fail.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.readable.notify_one();
        self.writable.notify_waiters();
    }
}

/// Marks the end of a poll, however it ends (answered, or dropped because
/// the client went away).
struct Polling<'a>(&'a PollQueue);

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.0.lock().polling = false;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;

    use super::*;

    fn texts(packets: Vec<Arc<str>>) -> Vec<String> {
        packets.iter().map(|p| p.to_string()).collect()
    }

    #[tokio::test]
    async fn a_poll_takes_everything_queued_in_order() {
        let queue = PollQueue::new(4);
        queue.push("42[1]".into()).await.unwrap();
        queue.push("2".into()).await.unwrap();
        assert_eq!(texts(queue.poll().await.unwrap()), ["42[1]", "2"]);
        assert!(queue.poll().now_or_never().is_none(), "waits for packets");
    }

    #[tokio::test]
    async fn a_waiting_poll_is_answered_by_the_next_packet_and_a_second_is_refused() {
        let queue = Arc::new(PollQueue::new(4));
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.poll().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(queue.poll().await, Err(PollError::Overlap));
        queue.push_now(NOOP);
        assert_eq!(texts(waiting.await.unwrap().unwrap()), ["6"]);
    }

    #[tokio::test]
    async fn a_full_queue_makes_the_writer_wait_until_a_poll() {
        let queue = Arc::new(PollQueue::new(2));
        queue.push("a".into()).await.unwrap();
        queue.push("b".into()).await.unwrap();
        let mut third = Box::pin(queue.push("c".into()));
        assert!((&mut third).now_or_never().is_none());
        assert_eq!(texts(queue.poll().await.unwrap()), ["a", "b"]);
        third.await.unwrap();
        assert_eq!(texts(queue.poll().await.unwrap()), ["c"]);
    }

    #[tokio::test]
    async fn closing_ends_polls_with_a_close_packet_and_refuses_pushes() {
        let queue = PollQueue::new(2);
        queue.push("41".into()).await.unwrap();
        queue.close();
        assert_eq!(queue.push("x".into()).await, Err(Closed));
        assert_eq!(texts(queue.poll().await.unwrap()), ["41", "1"]);
        queue.close_taken().await;
        assert_eq!(texts(queue.poll().await.unwrap()), ["1"]);
    }

    #[tokio::test]
    async fn an_upgrade_takes_what_is_left_without_noops() {
        let queue = PollQueue::new(4);
        queue.push("42[1]".into()).await.unwrap();
        queue.push_now(NOOP);
        queue.push("42[2]".into()).await.unwrap();
        assert_eq!(texts(queue.take_all()), ["42[1]", "42[2]"]);
        assert!(queue.take_all().is_empty());
    }
}
