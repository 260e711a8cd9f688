//! What a test case can make the broker seem to say (sans-I/O): the
//! changes applied to CONNACK and SUBACK on their way to the Agent, the
//! CONNACK that refuses a connection, and the DISCONNECT sent to the Agent.
//! The spec facts steered here: CONNACK User Property `subscribe-topic`
//! and Response Information (R-MQTT.15, R-MQTT.12), Assigned Client
//! Identifier (R-MQTT.9), Server Keep Alive (R-MQTT.14), failed SUBACK
//! (R-MQTT.16/17).

use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use serde::Deserialize;

use super::mqtt_codec::{Packet, Version};

/// The CONNACK User Property naming topics to subscribe to (R-MQTT.15).
pub const SUBSCRIBE_TOPIC: &str = "subscribe-topic";
/// `refuse_reason` of a refusal without CONNACK (the broker seems down).
pub const CLOSED: &str = "Closed";

/// `mqtt_steer: {...}`: applied to the next connection the interposer
/// accepts (and to no later one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Steering {
    /// CONNACK `subscribe-topic` User Properties to add.
    #[serde(default)]
    pub add_subscribe_topic: Vec<String>,
    /// Remove every `subscribe-topic` the broker sent.
    #[serde(default)]
    pub remove_subscribe_topic: bool,
    /// CONNACK Response Information.
    pub response_information: Option<String>,
    /// CONNACK Assigned Client Identifier.
    pub assigned_client_identifier: Option<String>,
    /// CONNACK Server Keep Alive, seconds.
    pub server_keep_alive: Option<u16>,
    /// Replace every SUBACK reason code with this failure
    /// (`NotAuthorized`, `UnspecifiedError`, `TopicFilterInvalid`, ...).
    pub fail_suback: Option<String>,
    /// Refuse this many connection attempts first (CONNACK with
    /// `refuse_reason`, then close), then accept again.
    #[serde(default)]
    pub refuse_connections: u32,
    /// The refusal's reason (MQTT 5 name; default `ServerUnavailable`),
    /// or `Closed`: no CONNACK at all, the connection is closed after the
    /// CONNECT, as when the broker is down (TP-469 11.6).
    pub refuse_reason: Option<String>,
    /// Drop the Agent's current connection (DISCONNECT, then close) so the
    /// steering takes effect now; default true.
    #[serde(default = "yes")]
    pub reconnect: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SteerError {
    #[error("unknown SUBACK reason '{0}'; use one of NotAuthorized, UnspecifiedError, ImplementationSpecific, TopicFilterInvalid, QuotaExceeded")]
    SubAckReason(String),
    #[error("unknown CONNACK refusal reason '{0}'; use one of ServerUnavailable, ServerBusy, NotAuthorized, Banned, BadUserNamePassword, UnspecifiedError, or Closed (no CONNACK)")]
    ConnAckReason(String),
}

impl Steering {
    /// Checks the names before the run, so a typo is a load error.
    pub fn validate(&self) -> Result<(), SteerError> {
        if let Some(r) = &self.fail_suback {
            suback_reason(r)?;
        }
        if let Some(r) = self.refuse_reason.as_deref().filter(|r| *r != CLOSED) {
            connack_reason(r)?;
        }
        Ok(())
    }

    /// Whether a refused connection is closed without CONNACK.
    pub fn refuses_by_closing(&self) -> bool {
        self.refuse_reason.as_deref() == Some(CLOSED)
    }

    /// Whether anything in CONNACK changes.
    fn touches_connack(&self) -> bool {
        !self.add_subscribe_topic.is_empty()
            || self.remove_subscribe_topic
            || self.response_information.is_some()
            || self.assigned_client_identifier.is_some()
            || self.server_keep_alive.is_some()
    }

    /// Rewrites a packet going to the Agent; `Some(note)` says what changed.
    /// MQTT 3.1.1 has no properties, so only SUBACK failure applies there.
    pub fn to_agent(&self, packet: &mut Packet) -> Option<String> {
        match packet {
            Packet::V5(v5::Packet::ConnAck(ack)) if self.touches_connack() => {
                let props = ack.properties.get_or_insert_with(empty_connack_properties);
                if self.remove_subscribe_topic {
                    props.user_properties.retain(|(k, _)| k != SUBSCRIBE_TOPIC);
                }
                for t in &self.add_subscribe_topic {
                    props
                        .user_properties
                        .push((SUBSCRIBE_TOPIC.to_string(), t.clone()));
                }
                if let Some(r) = &self.response_information {
                    props.response_information = Some(r.clone());
                }
                if let Some(c) = &self.assigned_client_identifier {
                    props.assigned_client_identifier = Some(c.clone());
                }
                if let Some(k) = self.server_keep_alive {
                    props.server_keep_alive = Some(k);
                }
                Some(format!("CONNACK steered: {}", self.describe_connack()))
            }
            Packet::V5(v5::Packet::SubAck(ack)) => {
                let code = suback_reason(self.fail_suback.as_deref()?).ok()?;
                for c in ack.return_codes.iter_mut() {
                    *c = code;
                }
                Some(format!("SUBACK steered: every reason code {code:?}"))
            }
            Packet::V4(v4::Packet::SubAck(ack)) if self.fail_suback.is_some() => {
                for c in ack.return_codes.iter_mut() {
                    *c = v4::SubscribeReasonCode::Failure;
                }
                Some("SUBACK steered: every return code 0x80 Failure".into())
            }
            _ => None,
        }
    }

    fn describe_connack(&self) -> String {
        let mut parts = Vec::new();
        if self.remove_subscribe_topic {
            parts.push("subscribe-topic removed".to_string());
        }
        for t in &self.add_subscribe_topic {
            parts.push(format!("subscribe-topic '{t}' added"));
        }
        if let Some(r) = &self.response_information {
            parts.push(format!("Response Information '{r}'"));
        }
        if let Some(c) = &self.assigned_client_identifier {
            parts.push(format!("Assigned Client Identifier '{c}'"));
        }
        if let Some(k) = self.server_keep_alive {
            parts.push(format!("Server Keep Alive {k}"));
        }
        parts.join(", ")
    }
}

fn empty_connack_properties() -> v5::ConnAckProperties {
    v5::ConnAckProperties {
        session_expiry_interval: None,
        receive_max: None,
        max_qos: None,
        retain_available: None,
        max_packet_size: None,
        assigned_client_identifier: None,
        topic_alias_max: None,
        reason_string: None,
        user_properties: Vec::new(),
        wildcard_subscription_available: None,
        subscription_identifiers_available: None,
        shared_subscription_available: None,
        server_keep_alive: None,
        response_information: None,
        server_reference: None,
        authentication_method: None,
        authentication_data: None,
    }
}

fn suback_reason(name: &str) -> Result<v5::SubscribeReasonCode, SteerError> {
    use v5::SubscribeReasonCode as C;
    Ok(match name {
        "NotAuthorized" => C::NotAuthorized,
        "UnspecifiedError" | "Unspecified" => C::Unspecified,
        "ImplementationSpecific" => C::ImplementationSpecific,
        "TopicFilterInvalid" => C::TopicFilterInvalid,
        "QuotaExceeded" => C::QuotaExceeded,
        other => return Err(SteerError::SubAckReason(other.into())),
    })
}

fn connack_reason(name: &str) -> Result<v5::ConnectReturnCode, SteerError> {
    use v5::ConnectReturnCode as C;
    Ok(match name {
        "ServerUnavailable" => C::ServerUnavailable,
        "ServerBusy" => C::ServerBusy,
        "NotAuthorized" => C::NotAuthorized,
        "Banned" => C::Banned,
        "BadUserNamePassword" => C::BadUserNamePassword,
        "UnspecifiedError" => C::UnspecifiedError,
        other => return Err(SteerError::ConnAckReason(other.into())),
    })
}

/// The CONNACK that refuses a connection attempt.
pub fn refusal(version: Version, reason: Option<&str>) -> Packet {
    match version {
        Version::V5 => Packet::V5(v5::Packet::ConnAck(v5::ConnAck {
            session_present: false,
            code: connack_reason(reason.unwrap_or("ServerUnavailable"))
                .unwrap_or(v5::ConnectReturnCode::ServerUnavailable),
            properties: None,
        })),
        Version::V311 => Packet::V4(v4::Packet::ConnAck(v4::ConnAck {
            session_present: false,
            code: v4::ConnectReturnCode::ServiceUnavailable,
        })),
    }
}

/// The DISCONNECT the interposer sends to the Agent (MQTT 5 only: in 3.1.1
/// a server just closes the connection).
pub fn disconnect(version: Version) -> Option<Packet> {
    (version == Version::V5).then(|| {
        // With properties, not None: rumqttc then counts the Property
        // Length byte it writes (None gave a Remaining Length one short).
        Packet::V5(v5::Packet::Disconnect(v5::Disconnect {
            reason_code: v5::DisconnectReasonCode::AdministrativeAction,
            properties: Some(v5::DisconnectProperties {
                session_expiry_interval: None,
                reason_string: Some("steered by a usp-plugfest test case".into()),
                user_properties: Vec::new(),
                server_reference: None,
            }),
        }))
    })
}

#[cfg(test)]
#[path = "mqtt_steer_tests.rs"]
pub(crate) mod tests;
