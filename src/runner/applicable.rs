//! Whether a case can apply in this run at all, known before anything is
//! sent: a case with a step that needs an interposer, the WebSocket or
//! CoAP test controls, a second WebSocket client, an E2E session context,
//! the DHCP server or the mDNS listener this run does not have is skipped
//! before its setup runs (a DHCP or .local. case would otherwise reboot the
//! Agent for nothing). Otherwise the
//! setup would change the Agent under test (its MQTT ClientID, keep-alive,
//! retry timers ...) for a case that is then skipped anyway, or fail on a
//! setup Get of an object the Agent has no reason to have (an MQTT client
//! on an Agent tested over WebSocket).

use super::coap_steps::NO_CONTROL as NO_COAP_CONTROL;
use super::dhcp_steps::{DhcpRun, NO_DHCP};
use super::discovery_steps::NO_MDNS_LISTENER;
use super::e2e_steps::NO_CONTEXT;
use super::interposer_steps::{NO_MQTT_INTERPOSER, NO_STOMP_INTERPOSER};
use super::mdns_announce_step::NO_ANNOUNCEMENT_LISTENER;
use super::ws_steps::{NO_CLIENT, NO_CONTROL as NO_WS_CONTROL};
use super::{empty_result, runs_with, Runner};
use crate::results::{CaseResult, Verdict};
use crate::suite::model::{Action, Case, Suite};

impl Runner<'_> {
    /// A skipped result when a setup or main step of `case` cannot run
    /// here, naming the step and what it needs.
    pub(super) fn inapplicable(&self, suite: &Suite, case: &Case) -> Option<CaseResult> {
        let plan_timings = self.context.plan_timings;
        let (step, why) = case
            .setup
            .iter()
            .chain(&case.steps)
            .filter(|s| runs_with(s, plan_timings))
            .find_map(|s| self.unavailable(&s.action).map(|why| (s, why)))?;
        let mut r = empty_result(suite, case);
        r.verdict = Verdict::Skipped;
        r.message = format!(
            "skipped before its setup (nothing was sent): step '{}' at {} is {}",
            step.action.keyword(),
            step.location,
            why
        );
        Some(r)
    }

    /// Why this run cannot carry `action` out, if it cannot.
    fn unavailable(&self, action: &Action) -> Option<&'static str> {
        let c = &self.context;
        let why = match action {
            Action::MqttSteer(_) | Action::ExpectMqtt(_) | Action::ExpectMqttRetries(_)
                if c.mqtt_interposer.is_none() =>
            {
                NO_MQTT_INTERPOSER
            }
            Action::StompSteer(_) | Action::ExpectStomp(_) | Action::ExpectStompRetries(_)
                if c.stomp_interposer.is_none() =>
            {
                NO_STOMP_INTERPOSER
            }
            Action::WsControl(s) if s.second_session == Some(true) => {
                c.ws_second_session.is_none().then_some(NO_CLIENT)?
            }
            Action::WsControl(_) | Action::ExpectClose(_) | Action::ExpectWsRetries(_)
                if c.ws_control.is_none() =>
            {
                NO_WS_CONTROL
            }
            Action::CoapControl(_) | Action::ExpectCoap(_) if c.coap_control.is_none() => {
                NO_COAP_CONTROL
            }
            Action::E2eSend(_)
            | Action::E2eTls(_)
            | Action::E2eTlsRenegotiate(_)
            | Action::E2eTlsAnswer(_)
            | Action::ExpectE2eTlsRetries(_)
                if self.session.e2e_segment_size().is_none() =>
            {
                NO_CONTEXT
            }
            Action::ExpectMdnsQuery(_) if c.mdns_questions.is_none() => NO_MDNS_LISTENER,
            Action::ExpectMdnsAnnouncement(_) if c.mdns_heard.is_none() => NO_ANNOUNCEMENT_LISTENER,
            Action::DhcpOffer(_) | Action::ExpectDhcp(_) | Action::ExpectDns(_)
                if matches!(c.dhcp, DhcpRun::Off(_)) =>
            {
                NO_DHCP
            }
            _ => return None,
        };
        Some(why)
    }
}
