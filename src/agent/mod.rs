//! The built-in reference Agent's core: a sans-I/O USP Agent (request Msg in,
//! answer Msg out) over an in-memory TR-181 data model, with fault injection.
//! Transports and the event loop that feed it live elsewhere.

mod add_delete;
mod add_trust;
mod challenge;
mod controllers;
pub mod effects;
mod failure;
pub mod faults;
mod firmware;
mod get;
pub mod http_fetch;
mod inject;
mod lifecycle;
pub(crate) mod model;
mod notify;
mod operate;
pub(crate) mod path; // pub(crate) for crate::fuzz_entry
mod periodic;
mod reboot;
mod request_table;
pub(crate) mod resolve;
pub mod runtime;
mod set;
mod subscriptions;
mod supported;
mod trust;
mod trust_enforce;
mod types;

pub use effects::{Clock, DownloadJob, Effect};
pub use faults::{Fault, FaultSet, UnknownFault};
pub use supported::{DATA_MODEL_INST_URI, SUPPORTED_PROTOCOL_VERSIONS};

use crate::usp::errors;
use crate::usp::msg;
use crate::usp::proto::msg::{
    body::MsgBody, request::ReqType, response::RespType, Error, GetSupportedProtocolResp, Msg,
};
use model::Model;
use std::collections::BTreeMap;

/// How to build an Agent: its Endpoint ID and the faults it should commit.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub endpoint_id: String,
    pub faults: FaultSet,
}

pub struct Agent {
    endpoint_id: String,
    faults: FaultSet,
    model: Model,
    notifier: notify::Notifier,
    /// Notifications caused by the last request, for the runtime to send
    /// after the response.
    outbox: Vec<(String, Msg)>,
    /// What the runtime must do for the core (reboot, fetch).
    effects: Vec<Effect>,
    /// The last time the runtime passed in (`tick`).
    clock: Clock,
    /// The Protocol of the MTP in use (LocalAgent.MTP.{i}.Protocol).
    protocol: String,
    downloads: BTreeMap<u64, firmware::PendingDownload>,
    next_job: u64,
    /// The image an Activate() boots into at the next reboot.
    activation: Option<String>,
    challenges: challenge::Challenges,
    periodic: periodic::PeriodicTimers,
    /// When `tick` last read the Periodic! timers (`before_request`).
    periodic_read: Option<std::time::Instant>,
    lifetimes: subscriptions::Lifetimes,
    /// The Boot! owed to Controllers after a reboot.
    pending_boot: Option<reboot::PendingBoot>,
    /// The last Controller's Roles and Permissions, while unchanged.
    rights: trust::RightsCache,
}

impl Agent {
    pub fn new(config: AgentConfig) -> Agent {
        Agent {
            model: Model::new(&config.endpoint_id),
            endpoint_id: config.endpoint_id,
            faults: config.faults,
            notifier: notify::Notifier::default(),
            outbox: Vec::new(),
            effects: Vec::new(),
            clock: Clock::now(),
            protocol: model::DEFAULT_PROTOCOL.to_string(),
            downloads: BTreeMap::new(),
            next_job: 0,
            activation: None,
            challenges: Default::default(),
            periodic: Default::default(),
            periodic_read: None,
            lifetimes: Default::default(),
            pending_boot: None,
            rights: trust::RightsCache::default(),
        }
    }

    /// The MQTT settings of a standalone Agent (`plugfest agent
    /// --mqtt-broker`) written into its model, which its MQTT client then
    /// follows: the ClientID (R-MQTT.8), its own topic as the reply-to
    /// topic and a Subscription row (R-MQTT.15/16), the Controller's topic.
    pub fn set_mqtt_topics(&mut self, client_id: Option<&str>, own: &str, controller: &str) {
        if let Some(id) = client_id {
            self.model.put("Device.MQTT.Client.1.", "ClientID", id);
        }
        self.model
            .put("Device.MQTT.Client.1.Subscription.1.", "Topic", own);
        self.model.put(
            "Device.LocalAgent.MTP.1.MQTT.",
            "ResponseTopicConfigured",
            own,
        );
        self.model.put(
            "Device.LocalAgent.Controller.1.MTP.1.MQTT.",
            "Topic",
            controller,
        );
    }

    pub fn endpoint_id(&self) -> &str {
        &self.endpoint_id
    }

    pub fn faults(&self) -> &FaultSet {
        &self.faults
    }

    /// `Controller.{i}.E2ESession.SessionExpiration` of `controller`, if it
    /// is set and not 0 (0: the context never expires).
    pub fn e2e_session_expiration(&self, controller: &str) -> Option<std::time::Duration> {
        let row = self.model.controller_path(controller)?;
        let secs: u64 = self
            .model
            .value(&format!("{row}.E2ESession."), "SessionExpiration")?
            .parse()
            .ok()?;
        (secs > 0).then(|| std::time::Duration::from_secs(secs))
    }

    /// When `controller`'s E2ESession asks the Agent to open TLS12 contexts
    /// itself (SessionMode Require, PayloadSecurity TLS): its
    /// SessionRetryMinimumWaitInterval and SessionRetryIntervalMultiplier,
    /// and the instance path of its E2ESession object.
    pub fn e2e_origination(&self, controller: &str) -> Option<(String, String, String)> {
        let row = self.model.controller_path(controller)?;
        let obj = format!("{row}.E2ESession.");
        let value = |name: &str| self.model.value(&obj, name).unwrap_or_default();
        if value("SessionMode") != "Require" || value("PayloadSecurity") != "TLS" {
            return None;
        }
        Some((
            value("SessionRetryMinimumWaitInterval"),
            value("SessionRetryIntervalMultiplier"),
            obj,
        ))
    }

    /// Handles one request Msg from the Controller `controller_id`; returns the Msg to send back,
    /// or None when nothing is to be sent (e.g. a NotifyResp, or the no-response fault).
    pub fn handle(&mut self, controller_id: &str, msg: &Msg) -> Option<Msg> {
        let id = msg::msg_id(msg).to_string();
        let req = match msg.body.as_ref().and_then(|b| b.msg_body.as_ref()) {
            // Responses (e.g. NotifyResp) and Errors are never answered.
            Some(MsgBody::Response(_)) | Some(MsgBody::Error(_)) => return None,
            Some(MsgBody::Request(r)) => r.req_type.as_ref(),
            None => None,
        };
        if self.faults.contains(Fault::NoResponse) {
            return None;
        }
        // A Controller the Agent does not know gets a row on first contact.
        if let Some(row) =
            controllers::ensure(&mut self.model, controller_id, &self.protocol, &self.faults)
        {
            let n = self
                .notifier
                .object_creation(&self.model, &self.faults, &row);
            self.outbox.extend(n);
        }
        let mut answer = match req {
            Some(req) if self.faults.contains(Fault::WrongMsgType) => {
                inject::wrong_type_answer(&id, req)
            }
            Some(req) => self.answer(controller_id, &id, req)?,
            // R-ENC.5: a Msg whose oneof is empty SHOULD get Error 7004.
            None => msg::error(
                &id,
                error(errors::INVALID_ARGUMENTS, "Msg carries no request"),
            ),
        };
        self.queue_value_changes(&answer);
        self.queue_object_changes(&answer);
        inject::apply(&self.faults, &self.model, &mut answer);
        Some(answer)
    }

    /// Notify Msgs that the last requests caused, with the Endpoint ID of
    /// the Controller each is for; sent after the response.
    pub fn take_notifications(&mut self) -> Vec<(String, Msg)> {
        std::mem::take(&mut self.outbox)
    }

    /// Every parameter a successful Set changed may fire ValueChange
    /// subscriptions (Subscription.{i}.NotifType = ValueChange).
    fn queue_value_changes(&mut self, answer: &Msg) {
        use crate::usp::proto::msg::set_resp::updated_object_result::operation_status::OperStatus;
        let Some(RespType::SetResp(resp)) = msg::response_body(answer) else {
            return;
        };
        for result in &resp.updated_obj_results {
            let Some(OperStatus::OperSuccess(ok)) = result
                .oper_status
                .as_ref()
                .and_then(|s| s.oper_status.as_ref())
            else {
                continue;
            };
            for inst in &ok.updated_inst_results {
                for (name, value) in &inst.updated_params {
                    let path = format!("{}{name}", inst.affected_path);
                    let n = self
                        .notifier
                        .value_change(&self.model, &self.faults, &path, value);
                    self.outbox.extend(n);
                }
            }
        }
    }

    /// Notify Msgs for an event the runtime decided has happened (e.g. `Device.Boot!` after
    /// connecting, `Device.LocalAgent.Periodic!` on its timer), one per subscribed Controller:
    /// (Controller Endpoint ID, Msg). The runtime owns timing; this only knows who subscribed.
    pub fn event_notifications(
        &mut self,
        event_path: &str,
        args: &BTreeMap<String, String>,
    ) -> Vec<(String, Msg)> {
        self.notifier
            .event(&self.model, &self.faults, event_path, None, |_| {
                args.clone()
            })
    }

    fn answer(&mut self, controller_id: &str, id: &str, req: &ReqType) -> Option<Msg> {
        // ControllerTrust: refuse what the Controller's Role does not permit
        // (unless a fault says to ignore it); filter what it may not read.
        let who = self.rights.of(&self.model, controller_id);
        if !self.faults.contains(Fault::IgnoresPermissions) {
            match trust_enforce::refuse(&self.model, &who, req) {
                Some(trust_enforce::Refusal::Error(e)) => return Some(msg::error(id, e)),
                Some(trust_enforce::Refusal::Operate(r)) => {
                    return Some(msg::response(id, RespType::OperateResp(r)))
                }
                None => {}
            }
        }
        let hide = !self.faults.contains(Fault::HiddenParamsReadable);
        let add_rules = add_trust::AddTrust::from_faults(&self.faults);
        let m = &mut self.model;
        let either = |r: Result<RespType, Error>| match r {
            Ok(resp) => msg::response(id, resp),
            Err(e) => msg::error(id, e),
        };
        Some(match req {
            ReqType::Get(g) => {
                let mut resp = get::get(m, g);
                // Secured parameters read as "" unless a secured Role (or
                // a fault) reveals them.
                if !self.faults.contains(Fault::SecuredRolesIgnored)
                    && (self.faults.contains(Fault::SecuredShownToAnyone)
                        || who.holds_secured_role())
                {
                    trust_enforce::reveal_secured(m, &mut resp);
                }
                if hide {
                    trust_enforce::filter_get(&who, &mut resp);
                }
                msg::response(id, RespType::GetResp(resp))
            }
            ReqType::GetInstances(g) => {
                let mut resp = get::get_instances(m, g);
                if hide {
                    trust_enforce::filter_get_instances(&who, &mut resp);
                }
                msg::response(id, RespType::GetInstancesResp(resp))
            }
            ReqType::GetSupportedDm(g) => {
                let mut resp = supported::get_supported_dm(m, g);
                if hide {
                    trust_enforce::filter_supported_dm(&who, &mut resp);
                }
                msg::response(id, RespType::GetSupportedDmResp(resp))
            }
            ReqType::GetSupportedProtocol(_) => msg::response(
                id,
                RespType::GetSupportedProtocolResp(GetSupportedProtocolResp {
                    agent_supported_protocol_versions: SUPPORTED_PROTOCOL_VERSIONS.to_string(),
                }),
            ),
            ReqType::Set(s) => either(set::set(m, s).map(RespType::SetResp)),
            ReqType::Add(a) => {
                either(add_delete::add(m, controller_id, a, add_rules).map(RespType::AddResp))
            }
            ReqType::Delete(d) => either(add_delete::delete(m, d).map(RespType::DeleteResp)),
            ReqType::Operate(o) => {
                msg::response(id, RespType::OperateResp(self.operate(controller_id, o)?))
            }
            // Notify, Register and Deregister are Agent-to-Controller requests (R-MSG.1).
            ReqType::Notify(_) | ReqType::Register(_) | ReqType::Deregister(_) => msg::error(
                id,
                error(
                    errors::MESSAGE_NOT_SUPPORTED,
                    "Message not supported by this Agent",
                ),
            ),
        })
    }
}

fn error(code: u32, text: &str) -> Error {
    Error {
        err_code: code,
        err_msg: text.to_string(),
        param_errs: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod usecase_tests;
