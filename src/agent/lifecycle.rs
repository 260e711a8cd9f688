//! The core's side of the runtime's events: time passing (`tick`), a finished fetch,
//! a reboot and a (re)connected Controller. Each returns the Notify Msgs it causes,
//! as (Controller Endpoint ID, Msg); new effects wait in `take_effects`.

use super::effects::{Clock, Effect};
use super::faults::Fault;
use super::reboot::{self, PendingBoot};
use super::{controllers, firmware, request_table, subscriptions, Agent};
use crate::usp::msg;
use crate::usp::proto::msg::{add_resp, delete_resp, response::RespType, Msg};

/// How stale the Periodic! timers may be read before a request: the
/// runtime's own tick interval.
const PERIODIC_STEP: std::time::Duration = std::time::Duration::from_millis(100);

impl Agent {
    /// Effects the last calls queued, for the runtime to carry out.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Names the MTP in use (MTP.{i}.Protocol, Controller.{i}.MTP.{i}.Protocol):
    /// one of CoAP, WebSocket, MQTT, STOMP, UDS.
    pub fn set_mtp_protocol(&mut self, protocol: &str) {
        self.protocol = protocol.to_string();
        self.model.set_mtp_protocol(protocol);
    }

    /// Time has passed: TimeToLive expiries (ObjectDeletion) and Periodic! events.
    pub fn tick(&mut self, clock: Clock) -> Vec<(String, Msg)> {
        let mut out = self.expire(clock);
        self.periodic_read = Some(clock.mono);
        let due = self.periodic.due(&self.model, clock.mono);
        if !self.faults.contains(Fault::NoPeriodic) {
            for eid in due {
                out.extend(self.notifier.event(
                    &self.model,
                    &self.faults,
                    "Device.LocalAgent.Periodic!",
                    Some(&eid),
                    |_| Default::default(),
                ));
            }
        }
        out
    }

    /// Time has passed, as far as a request about to be handled must know:
    /// instances whose TimeToLive ran out are gone (ObjectDeletion). The
    /// Periodic! timers, which read every Controller row, are read only
    /// when `tick` last read them `PERIODIC_STEP` ago or more: a request
    /// does not pay for them each time, and a flood of requests does not
    /// hold them back.
    pub fn before_request(&mut self, clock: Clock) -> Vec<(String, Msg)> {
        match self.periodic_read {
            Some(t) if clock.mono.saturating_duration_since(t) < PERIODIC_STEP => {
                self.expire(clock)
            }
            _ => self.tick(clock),
        }
    }

    fn expire(&mut self, clock: Clock) -> Vec<(String, Msg)> {
        self.clock = clock;
        let mut out = Vec::new();
        for gone in self.lifetimes.expire(&mut self.model, clock.mono) {
            out.extend(
                self.notifier
                    .object_deletion(&self.model, &self.faults, &gone),
            );
        }
        out
    }

    /// The runtime fetched (or failed to fetch) download `id`: validate, update the
    /// FirmwareImage row, delete the Request row, then OperationComplete and
    /// TransferComplete! (sent on failure too).
    pub fn download_finished(
        &mut self,
        id: u64,
        fetched: Result<Vec<u8>, String>,
        clock: Clock,
    ) -> Vec<(String, Msg)> {
        self.clock = clock;
        let Some(job) = self.downloads.remove(&id) else {
            // Forgotten by a reboot meanwhile: async operations do not survive it.
            return Vec::new();
        };
        let ignore = self.faults.contains(Fault::AcceptsBadChecksum);
        let outcome = firmware::finish(&mut self.model, &job, fetched, ignore);
        request_table::close(&mut self.model, &job.request);
        let mut out = self.notifier.operation_complete(
            &self.model,
            &self.faults,
            &job.image,
            "Download()",
            &job.command_key,
            outcome.clone().err(),
        );
        if !self.faults.contains(Fault::NoTransferComplete) {
            let args = firmware::transfer_complete_args(&job, &outcome, &clock);
            out.extend(self.notifier.event(
                &self.model,
                &self.faults,
                "Device.LocalAgent.TransferComplete!",
                None,
                |_| args.clone(),
            ));
        }
        if outcome.is_ok() && job.auto_activate {
            self.activation = Some(job.image.clone());
            self.effects.push(Effect::Reboot {
                cause: "FirmwareActivation".into(),
                command_key: job.command_key.clone(),
            });
        }
        out
    }

    /// The runtime has dropped every connection: forget what a reboot forgets
    /// (non-Persistent Subscriptions, Request rows, running downloads, challenges,
    /// timers; BootParameter rows are configuration and stay), boot into an
    /// activated image, and owe each Controller a Boot!.
    pub fn reboot(&mut self, cause: &str, command_key: &str, clock: Clock) {
        self.clock = clock;
        subscriptions::forget_non_persistent(&mut self.model, &self.faults);
        request_table::clear(&mut self.model);
        self.downloads.clear();
        self.challenges = Default::default();
        self.periodic.reset();
        self.outbox.clear();
        self.effects.clear();
        if let Some(image) = self.activation.take() {
            firmware::boot_into(&mut self.model, &image);
        }
        self.pending_boot = Some(PendingBoot {
            cause: cause.to_string(),
            command_key: command_key.to_string(),
            told: Vec::new(),
        });
    }

    /// A connection to `controller` is up and its Connect Record sent: a new
    /// Controller gets a row; after a reboot, its Boot! goes out (once).
    pub fn connected(&mut self, controller: &str, clock: Clock) -> Vec<(String, Msg)> {
        self.clock = clock;
        let mut out = Vec::new();
        if let Some(row) =
            controllers::ensure(&mut self.model, controller, &self.protocol, &self.faults)
        {
            out.extend(
                self.notifier
                    .object_creation(&self.model, &self.faults, &row),
            );
        }
        let Some(boot) = self.pending_boot.as_mut() else {
            return out;
        };
        if boot.told.iter().any(|c| c == controller) {
            return out;
        }
        boot.told.push(controller.to_string());
        let boot = boot.clone();
        let with_cause = !self.faults.contains(Fault::BootWithoutCause);
        let model = &self.model;
        out.extend(self.notifier.event(
            model,
            &self.faults,
            "Device.Boot!",
            Some(controller),
            |eid| reboot::boot_args(model, &boot, eid, with_cause),
        ));
        out
    }

    /// ObjectCreation / ObjectDeletion for what a successful Add or Delete did;
    /// new Subscriptions start their TimeToLive.
    pub(super) fn queue_object_changes(&mut self, answer: &Msg) {
        use add_resp::created_object_result::operation_status::OperStatus as AddStatus;
        use delete_resp::deleted_object_result::operation_status::OperStatus as DelStatus;
        let mut created = Vec::new();
        let mut deleted = Vec::new();
        match msg::response_body(answer) {
            Some(RespType::AddResp(r)) => {
                for res in &r.created_obj_results {
                    if let Some(AddStatus::OperSuccess(ok)) = res
                        .oper_status
                        .as_ref()
                        .and_then(|s| s.oper_status.as_ref())
                    {
                        if !ok.instantiated_path.is_empty() {
                            created.push(ok.instantiated_path.clone());
                        }
                    }
                }
            }
            Some(RespType::DeleteResp(r)) => {
                for res in &r.deleted_obj_results {
                    if let Some(DelStatus::OperSuccess(ok)) = res
                        .oper_status
                        .as_ref()
                        .and_then(|s| s.oper_status.as_ref())
                    {
                        deleted.extend(ok.affected_paths.iter().cloned());
                    }
                }
            }
            _ => return,
        }
        for inst in created {
            if inst.starts_with(subscriptions::TABLE) {
                self.lifetimes.created(&inst, self.clock.mono);
            }
            let n = self
                .notifier
                .object_creation(&self.model, &self.faults, &inst);
            self.outbox.extend(n);
        }
        for inst in deleted {
            let n = self
                .notifier
                .object_deletion(&self.model, &self.faults, &inst);
            self.outbox.extend(n);
        }
    }
}
