//! Load-time checks of the MQTT interposer steps (`mqtt_steer`,
//! `expect_mqtt`); their YAML forms are `interpose::mqtt_steer::Steering`
//! and `interpose::mqtt_log::PacketPattern`, whose unknown keys serde
//! already refuses with the step's position.

use super::model::Action;

pub const HELP: &str = "see test-cases/README.md, \"MQTT interposer steps\"";

/// Packet types `expect_mqtt` can name.
const PACKETS: &[&str] = &[
    "CONNECT",
    "CONNACK",
    "PUBLISH",
    "PUBACK",
    "PUBREC",
    "PUBREL",
    "PUBCOMP",
    "SUBSCRIBE",
    "SUBACK",
    "UNSUBSCRIBE",
    "UNSUBACK",
    "PINGREQ",
    "PINGRESP",
    "DISCONNECT",
    "AUTH",
    // Not a packet: a connection the interposer closed without CONNACK
    // (`refuse_reason: Closed`).
    "CLOSE",
];

/// Field names the packet summaries carry (`interpose::mqtt_summary`);
/// user properties are `user_property:<name>`.
pub const FIELDS: &[&str] = &[
    "version",
    "client_id",
    "keep_alive",
    "clean_start",
    "clean_session",
    "request_response_information",
    "request_problem_information",
    "session_expiry_interval",
    "receive_maximum",
    "maximum_packet_size",
    "will_topic",
    "will_qos",
    "will_retain",
    "username",
    "reason_code",
    "session_present",
    "response_information",
    "assigned_client_identifier",
    "server_keep_alive",
    "reason_string",
    "maximum_qos",
    "topic",
    "qos",
    "retain",
    "dup",
    "payload_bytes",
    "response_topic",
    "content_type",
    "correlation_data_bytes",
    "packet_id",
    "topic_filter",
];

/// Longest wait an `expect_mqtt` may ask for.
const MAX_TIMEOUT_MS: u64 = 120_000;

pub fn validate(action: &Action) -> Result<(), String> {
    match action {
        Action::MqttSteer(s) => s.validate().map_err(|e| format!("mqtt_steer: {e}")),
        Action::ExpectMqttRetries(r) => r.validate(),
        Action::ExpectMqtt(p) => {
            if !PACKETS.contains(&p.packet.to_uppercase().as_str()) {
                return Err(format!(
                    "expect_mqtt: unknown packet type '{}'; use one of {}",
                    p.packet,
                    PACKETS.join(", ")
                ));
            }
            if let Some(bad) = p
                .fields
                .keys()
                .find(|k| !FIELDS.contains(&k.as_str()) && !k.starts_with("user_property:"))
            {
                return Err(format!(
                    "expect_mqtt: unknown field '{bad}'; use user_property:<name> or one of {}",
                    FIELDS.join(", ")
                ));
            }
            if p.timeout_ms.is_some_and(|t| t > MAX_TIMEOUT_MS) {
                return Err(format!("expect_mqtt: timeout_ms above {MAX_TIMEOUT_MS}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
