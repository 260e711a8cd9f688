//! Process-wide time spent waiting rather than exchanging: `plugfest bench`
//! reports the share of a run's wall time that goes to "nothing should
//! arrive" windows, Notify waits, lifecycle waits and request timeouts.
//! Two relaxed atomic adds per wait: cheap enough to stay on always.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// `expect_no_notify`: silence is the pass, so the whole window is spent.
    Silence,
    /// `wait_notify`: until the Notify arrives or the timeout.
    Notify,
    /// Waiting for the Agent to drop or come back (reboot, disconnect).
    Lifecycle,
    /// Requests that got no answer before the request timeout.
    RequestTimeout,
}

const KINDS: usize = 4;
static NANOS: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];
static COUNT: [AtomicU64; KINDS] = [const { AtomicU64::new(0) }; KINDS];

pub fn add(kind: WaitKind, d: Duration) {
    NANOS[kind as usize].fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    COUNT[kind as usize].fetch_add(1, Ordering::Relaxed);
}

/// Adds the time from its creation to its drop.
pub struct Timer(WaitKind, Instant);

pub fn timer(kind: WaitKind) -> Timer {
    Timer(kind, Instant::now())
}

impl Drop for Timer {
    fn drop(&mut self) {
        add(self.0, self.1.elapsed());
    }
}

/// (kind, total time, number of waits) so far in this process.
pub fn snapshot() -> Vec<(WaitKind, Duration, u64)> {
    [
        WaitKind::Silence,
        WaitKind::Notify,
        WaitKind::Lifecycle,
        WaitKind::RequestTimeout,
    ]
    .into_iter()
    .map(|k| {
        (
            k,
            Duration::from_nanos(NANOS[k as usize].load(Ordering::Relaxed)),
            COUNT[k as usize].load(Ordering::Relaxed),
        )
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counters are the process's: under `cargo test` other tests'
    /// Sessions wait at the same time, so this asserts what its own timer
    /// adds at least, not an exact total.
    #[test]
    fn a_timer_adds_its_lifetime_to_its_kind() {
        let before = snapshot();
        {
            let _t = timer(WaitKind::Lifecycle);
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = snapshot();
        let lifecycle = after[2].1 - before[2].1;
        assert!(lifecycle >= Duration::from_millis(20), "{lifecycle:?}");
        assert!(after[2].2 > before[2].2, "{before:?} -> {after:?}");
    }
}
