//! Subscription lifetimes (DRAFT-Subscriptions:1): TimeToLive > 0 deletes a Subscription
//! that many seconds after its creation (0 = forever); a reboot keeps only the
//! Persistent ones.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::faults::{Fault, FaultSet};
use super::model::Model;

pub const TABLE: &str = "Device.LocalAgent.Subscription.";

/// When each Subscription instance was created, for TimeToLive.
#[derive(Default)]
pub struct Lifetimes {
    created: BTreeMap<String, Instant>,
}

impl Lifetimes {
    pub fn created(&mut self, inst: &str, now: Instant) {
        self.created.insert(inst.to_string(), now);
    }

    /// Deletes every Subscription whose TimeToLive has run out; returns the removed
    /// instance paths (for ObjectDeletion).
    pub fn expire(&mut self, model: &mut Model, now: Instant) -> Vec<String> {
        let live = model.instances(TABLE);
        self.created.retain(|k, _| live.contains(k));
        let mut gone = Vec::new();
        for inst in live {
            let ttl: u64 = model
                .value(&inst, "TimeToLive")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            // One never seen created (e.g. restored) counts from now.
            let born = *self.created.entry(inst.clone()).or_insert(now);
            if ttl > 0 && now >= born + Duration::from_secs(ttl) {
                gone.extend(model.delete(&inst));
                self.created.remove(&inst);
            }
        }
        gone
    }
}

/// At reboot: every Subscription that is not Persistent is forgotten (with the
/// `subscriptions-not-persistent` fault, all of them are).
pub fn forget_non_persistent(model: &mut Model, faults: &FaultSet) {
    for inst in model.instances(TABLE) {
        let persistent = matches!(
            model.value(&inst, "Persistent").as_deref(),
            Some("true" | "1")
        );
        if !persistent || faults.contains(Fault::SubscriptionsNotPersistent) {
            model.delete(&inst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(m: &mut Model, persistent: &str, ttl: &str) -> String {
        let inst = m.create_instance(TABLE);
        m.put(&inst, "Persistent", persistent);
        m.put(&inst, "TimeToLive", ttl);
        inst
    }

    #[test]
    fn time_to_live_deletes_after_that_many_seconds() {
        let mut m = Model::new("proto::a");
        let t0 = Instant::now();
        let mut life = Lifetimes::default();
        let short = sub(&mut m, "false", "2");
        let forever = sub(&mut m, "false", "0");
        life.created(&short, t0);
        life.created(&forever, t0);
        assert!(life
            .expire(&mut m, t0 + Duration::from_millis(1900))
            .is_empty());
        let gone = life.expire(&mut m, t0 + Duration::from_secs(2));
        assert_eq!(gone, vec![short]);
        assert_eq!(m.instances(TABLE), vec![forever]);
    }

    #[test]
    fn reboot_keeps_persistent_unless_the_fault_is_on() {
        let mut m = Model::new("proto::a");
        let keep = sub(&mut m, "true", "0");
        sub(&mut m, "false", "0");
        forget_non_persistent(&mut m, &FaultSet::new());
        assert_eq!(m.instances(TABLE), vec![keep]);
        let faulty: FaultSet = [Fault::SubscriptionsNotPersistent].into_iter().collect();
        forget_non_persistent(&mut m, &faulty);
        assert!(m.instances(TABLE).is_empty());
    }
}
