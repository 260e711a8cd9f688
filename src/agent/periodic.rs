//! `Device.LocalAgent.Periodic!` timers, one per Controller row, every
//! `Controller.{i}.PeriodicNotifInterval` seconds (min 1); a changed interval restarts it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::model::Model;

const CONTROLLERS: &str = "Device.LocalAgent.Controller.";

#[derive(Default)]
pub struct PeriodicTimers {
    /// Controller EndpointID → (interval, next due time).
    timers: BTreeMap<String, (u64, Instant)>,
}

impl PeriodicTimers {
    /// Controllers whose Periodic! is due at `now` (their timers move on one interval).
    pub fn due(&mut self, model: &Model, now: Instant) -> Vec<String> {
        let mut seen = Vec::new();
        let mut due = Vec::new();
        for row in model.instances(CONTROLLERS) {
            let Some(eid) = model.value(&row, "EndpointID").filter(|e| !e.is_empty()) else {
                continue;
            };
            let interval = model
                .value(&row, "PeriodicNotifInterval")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(86400)
                .max(1);
            let step = Duration::from_secs(interval);
            let timer = self
                .timers
                .entry(eid.clone())
                .or_insert((interval, now + step));
            if timer.0 != interval {
                // Setting the interval restarts the timer (contract).
                *timer = (interval, now + step);
            }
            if now >= timer.1 {
                due.push(eid.clone());
                // Catch up without a burst after a long pause.
                while timer.1 <= now {
                    timer.1 += step;
                }
            }
            seen.push(eid);
        }
        self.timers.retain(|k, _| seen.contains(k));
        due
    }

    /// Forget every timer (a reboot starts them afresh).
    pub fn reset(&mut self) {
        self.timers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_each_interval_and_restarts_when_it_changes() {
        let mut m = Model::new("proto::a");
        let c1 = "Device.LocalAgent.Controller.1.";
        m.put(c1, "PeriodicNotifInterval", "2");
        let mut t = PeriodicTimers::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(t.due(&m, t0).is_empty());
        assert!(t.due(&m, at(1)).is_empty());
        assert_eq!(
            t.due(&m, at(2)),
            vec!["proto::plugfest-controller".to_string()]
        );
        assert!(t.due(&m, at(3)).is_empty());
        assert_eq!(t.due(&m, at(4)).len(), 1);
        m.put(c1, "PeriodicNotifInterval", "10");
        assert!(t.due(&m, at(5)).is_empty());
        assert!(t.due(&m, at(14)).is_empty());
        assert_eq!(t.due(&m, at(15)).len(), 1);
    }
}
