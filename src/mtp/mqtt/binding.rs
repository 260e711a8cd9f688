//! The MQTT binding's rules as pure functions (TR-369 MQTT MTP): which
//! topics to subscribe to, how the reply-to topic travels in MQTT 5
//! properties or in the MQTT 3.1.1 topic name, and which content types a
//! receiver accepts. No I/O: the rumqttc drivers beside this apply them.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Content Type an MQTT 5 sender puts on every USP PUBLISH (R-MQTT.27).
pub const CONTENT_TYPE: &str = "usp.msg";
/// The older name a receiver must still accept (R-MQTT.27a).
pub const LEGACY_CONTENT_TYPE: &str = "application/vnd.bbf.usp.msg";
/// CONNECT User Property naming the client's Endpoint ID (R-MQTT.13).
pub const EID_USER_PROPERTY: &str = "usp-endpoint-id";
/// Separator between topic and reply-to topic in MQTT 3.1.1 (R-MQTT.24).
const REPLY_TO: &str = "/reply-to=";

/// The MQTT protocol version spoken to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MqttVersion {
    /// MQTT 5.0, which every USP endpoint must implement (R-MQTT.1).
    #[default]
    V5,
    /// MQTT 3.1.1, optional (R-MQTT.2).
    V3_1_1,
}

impl MqttVersion {
    /// The `MQTTConnectRecord.version` value (V3_1_1 = 0, V5 = 1).
    pub fn record_version(self) -> i32 {
        match self {
            MqttVersion::V5 => 1,
            MqttVersion::V3_1_1 => 0,
        }
    }

    /// For reports: `MQTT 5` or `MQTT 3.1.1`.
    pub fn label(self) -> &'static str {
        match self {
            MqttVersion::V5 => "MQTT 5",
            MqttVersion::V3_1_1 => "MQTT 3.1.1",
        }
    }

    /// Accepts `5`, `5.0`, `3.1.1` and `311`, as written in target files.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "5" | "5.0" | "v5" => Some(MqttVersion::V5),
            "3.1.1" | "311" | "v3.1.1" => Some(MqttVersion::V3_1_1),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for MqttVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MqttVersion;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an MQTT version: 5 or 3.1.1")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MqttVersion, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MqttVersion, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<MqttVersion, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MqttVersion, E> {
                MqttVersion::parse(v).ok_or_else(|| {
                    E::custom(format!("unknown MQTT version '{v}' (use 5 or 3.1.1)"))
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// ClientId for CONNECT: the configured one, else our Endpoint ID. R-MQTT.9
/// lets an MQTT 5 client send an empty ClientId instead, but a ClientId that
/// names the endpoint keeps broker logs readable and is what R-MQTT.11 asks
/// of 3.1.1, so both versions use it.
pub fn client_id(configured: Option<&str>, endpoint_id: &str) -> String {
    match configured {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => endpoint_id.to_string(),
    }
}

/// CONNECT User Properties (MQTT 5 only): our Endpoint ID (R-MQTT.13).
pub fn connect_user_properties(endpoint_id: &str) -> Vec<(String, String)> {
    vec![(EID_USER_PROPERTY.to_string(), endpoint_id.to_string())]
}

/// Where peers should send to reach us: the broker's Response Information
/// when it gave one (R-MQTT.12/15), else our configured topic.
pub fn reply_topic(own_topic: &str, response_information: Option<&str>) -> String {
    match response_information {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => own_topic.to_string(),
    }
}

/// Topic filters for SUBSCRIBE (R-MQTT.15). MQTT 3.1.1 messages arrive on
/// `<topic>/reply-to=...` (R-MQTT.24), so there the wildcard form
/// `<topic>/#` is used, which also matches `<topic>` itself.
pub fn subscriptions(
    version: MqttVersion,
    own_topic: &str,
    response_information: Option<&str>,
) -> Vec<String> {
    let mut topics = vec![own_topic.to_string()];
    if let Some(r) = response_information.filter(|r| !r.is_empty() && *r != own_topic) {
        topics.push(r.to_string());
    }
    match version {
        MqttVersion::V5 => topics,
        MqttVersion::V3_1_1 => topics.into_iter().map(|t| format!("{t}/#")).collect(),
    }
}

/// MQTT 3.1.1 PUBLISH topic: the peer's topic plus `/reply-to=` and our
/// reply topic with every `/` written as `%2F` (R-MQTT.24).
pub fn v311_publish_topic(peer_topic: &str, reply_topic: &str) -> String {
    format!("{peer_topic}{REPLY_TO}{}", reply_topic.replace('/', "%2F"))
}

/// The reply-to topic of a received MQTT 3.1.1 PUBLISH: the text after the
/// last `/reply-to=` with `%2F` turned back into `/` (R-MQTT.25).
pub fn v311_reply_topic(topic: &str) -> Option<String> {
    let (_, encoded) = topic.rsplit_once(REPLY_TO)?;
    if encoded.is_empty() {
        return None;
    }
    Some(encoded.replace("%2F", "/"))
}

/// The reply-to topic of a received PUBLISH (MQTT 5: its Response Topic;
/// 3.1.1: the `/reply-to=` part of `topic`), or why it must be set aside:
/// every USP PUBLISH names its reply-to (R-MQTT.22..24), and a Record
/// without one cannot be answered (R-MQTT.26).
pub fn require_reply_to(
    version: MqttVersion,
    topic: &str,
    response_topic: Option<&str>,
) -> Result<String, String> {
    match version {
        MqttVersion::V5 => response_topic
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "a PUBLISH on '{topic}' without a Response Topic (R-MQTT.23: every USP PUBLISH carries its reply-to topic there; without it the Record cannot be answered, R-MQTT.26)"
                )
            }),
        MqttVersion::V3_1_1 => v311_reply_topic(topic).ok_or_else(|| {
            format!(
                "a PUBLISH on '{topic}' without '{REPLY_TO}' in its topic name (R-MQTT.24: an MQTT 3.1.1 PUBLISH carries its reply-to topic there; without it the Record cannot be answered, R-MQTT.26, and R-MQTT.26a treats it as a version mismatch)"
            )
        }),
    }
}

/// Whether an MQTT 5 PUBLISH may carry a USP Record (R-MQTT.27a). No
/// Content Type at all is tolerated: the Record itself is still checked.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), String> {
    match content_type {
        None => Ok(()),
        Some(CONTENT_TYPE) | Some(LEGACY_CONTENT_TYPE) => Ok(()),
        Some(other) => Err(format!(
            "a PUBLISH with Content Type '{other}' (R-MQTT.27/27a: USP Records travel as '{CONTENT_TYPE}', and a receiver accepts only that or '{LEGACY_CONTENT_TYPE}')"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_to_round_trips_through_the_v311_topic() {
        let t = v311_publish_topic("usp/agents/a", "usp/controllers/proto::c");
        assert_eq!(t, "usp/agents/a/reply-to=usp%2Fcontrollers%2Fproto::c");
        assert_eq!(
            v311_reply_topic(&t).as_deref(),
            Some("usp/controllers/proto::c")
        );
    }

    #[test]
    fn the_last_reply_to_wins_and_absence_is_none() {
        // R-MQTT.25: the text after the *last* `/reply-to=`.
        assert_eq!(
            v311_reply_topic("a/reply-to=x/b/reply-to=y%2Fz").as_deref(),
            Some("y/z")
        );
        assert_eq!(v311_reply_topic("usp/agents/a"), None);
        assert_eq!(v311_reply_topic("usp/agents/a/reply-to="), None);
    }

    #[test]
    fn a_publish_without_reply_to_is_refused_naming_the_rule() {
        let v5 = MqttVersion::V5;
        assert_eq!(
            require_reply_to(v5, "usp/c", Some("usp/a")).as_deref(),
            Ok("usp/a")
        );
        for missing in [None, Some("")] {
            let err = require_reply_to(v5, "usp/c", missing).unwrap_err();
            assert!(err.contains("R-MQTT.23") && err.contains("usp/c"), "{err}");
        }
        let v311 = MqttVersion::V3_1_1;
        // A Response Topic means nothing to 3.1.1: only the topic name counts.
        let err = require_reply_to(v311, "usp/c", Some("usp/a")).unwrap_err();
        assert!(
            err.contains("R-MQTT.24") && err.contains("R-MQTT.26a"),
            "{err}"
        );
        assert_eq!(
            require_reply_to(v311, "usp/c/reply-to=usp%2Fa", None).as_deref(),
            Ok("usp/a")
        );
    }

    #[test]
    fn subscriptions_follow_the_version() {
        assert_eq!(subscriptions(MqttVersion::V5, "usp/a", None), ["usp/a"]);
        assert_eq!(
            subscriptions(MqttVersion::V3_1_1, "usp/a", None),
            ["usp/a/#"]
        );
        assert_eq!(
            subscriptions(MqttVersion::V5, "usp/a", Some("resp/1")),
            ["usp/a", "resp/1"]
        );
        assert_eq!(
            subscriptions(MqttVersion::V5, "usp/a", Some("usp/a")),
            ["usp/a"]
        );
    }

    #[test]
    fn content_types_accepted_and_refused() {
        assert!(check_content_type(Some("usp.msg")).is_ok());
        assert!(check_content_type(Some("application/vnd.bbf.usp.msg")).is_ok());
        assert!(check_content_type(None).is_ok());
        let err = check_content_type(Some("text/plain")).unwrap_err();
        assert!(
            err.contains("R-MQTT.27") && err.contains("text/plain"),
            "{err}"
        );
    }

    #[test]
    fn identity_in_connect() {
        assert_eq!(client_id(None, "proto::a"), "proto::a");
        assert_eq!(client_id(Some(""), "proto::a"), "proto::a");
        assert_eq!(client_id(Some("box-1"), "proto::a"), "box-1");
        assert_eq!(
            connect_user_properties("proto::a"),
            [("usp-endpoint-id".to_string(), "proto::a".to_string())]
        );
        assert_eq!(reply_topic("usp/a", Some("resp/1")), "resp/1");
        assert_eq!(reply_topic("usp/a", Some("")), "usp/a");
        assert_eq!(reply_topic("usp/a", None), "usp/a");
    }

    #[test]
    fn versions_parse_and_map_to_the_connect_record() {
        assert_eq!(MqttVersion::parse("5"), Some(MqttVersion::V5));
        assert_eq!(MqttVersion::parse("3.1.1"), Some(MqttVersion::V3_1_1));
        assert_eq!(MqttVersion::parse("4"), None);
        assert_eq!(MqttVersion::V5.record_version(), 1);
        assert_eq!(MqttVersion::V3_1_1.record_version(), 0);
    }
}
