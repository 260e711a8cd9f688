//! The fields of each decoded MQTT packet that a USP conformance check
//! looks at (TP-469 section 11): client id, keep alive, will, properties
//! (Request Response Information, Response Information, Assigned Client
//! Identifier, Server Keep Alive, Response Topic, Content Type), user
//! properties, topics, QoS and reason codes.

use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;

use super::mqtt_codec::Fields;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn v5_fields(p: &v5::Packet, f: &mut Fields) {
    use v5::Packet as P;
    f.put("version", "5.0");
    match p {
        P::Connect(c, will, login) => {
            f.put("client_id", &c.client_id);
            f.put("keep_alive", c.keep_alive);
            f.put("clean_start", c.clean_start);
            if let Some(props) = &c.properties {
                f.opt("request_response_information", props.request_response_info);
                f.opt("request_problem_information", props.request_problem_info);
                f.opt("session_expiry_interval", props.session_expiry_interval);
                f.opt("receive_maximum", props.receive_maximum);
                f.opt("maximum_packet_size", props.max_packet_size);
                f.users(&props.user_properties);
            }
            if let Some(w) = will {
                f.put("will_topic", text(&w.topic));
                f.put("will_qos", w.qos as u8);
                f.put("will_retain", w.retain);
            }
            if let Some(l) = login {
                f.put("username", &l.username);
            }
        }
        P::ConnAck(a) => {
            f.put("reason_code", format!("{:?}", a.code));
            f.put("session_present", a.session_present);
            if let Some(props) = &a.properties {
                f.opt("response_information", props.response_information.as_ref());
                f.opt(
                    "assigned_client_identifier",
                    props.assigned_client_identifier.as_ref(),
                );
                f.opt("server_keep_alive", props.server_keep_alive);
                f.opt("reason_string", props.reason_string.as_ref());
                f.opt("maximum_qos", props.max_qos);
                f.users(&props.user_properties);
            }
        }
        P::Publish(p) => {
            f.put("topic", text(&p.topic));
            f.put("qos", p.qos as u8);
            f.put("retain", p.retain);
            f.put("dup", p.dup);
            f.put("payload_bytes", p.payload.len());
            if let Some(props) = &p.properties {
                f.opt("response_topic", props.response_topic.as_ref());
                f.opt("content_type", props.content_type.as_ref());
                f.opt(
                    "correlation_data_bytes",
                    props.correlation_data.as_ref().map(|c| c.len()),
                );
                f.users(&props.user_properties);
            }
        }
        P::Subscribe(s) => {
            f.put("packet_id", s.pkid);
            for filter in &s.filters {
                f.put("topic_filter", &filter.path);
                f.put("qos", filter.qos as u8);
            }
            if let Some(props) = &s.properties {
                f.users(&props.user_properties);
            }
        }
        P::SubAck(a) => {
            f.put("packet_id", a.pkid);
            for code in &a.return_codes {
                f.put("reason_code", format!("{code:?}"));
            }
        }
        P::Unsubscribe(u) => {
            f.put("packet_id", u.pkid);
            for filter in &u.filters {
                f.put("topic_filter", filter);
            }
            if let Some(props) = &u.properties {
                f.users(&props.user_properties);
            }
        }
        P::UnsubAck(a) => {
            f.put("packet_id", a.pkid);
            for code in &a.reasons {
                f.put("reason_code", format!("{code:?}"));
            }
        }
        P::PubAck(a) => {
            f.put("packet_id", a.pkid);
            f.put("reason_code", format!("{:?}", a.reason));
        }
        P::Disconnect(d) => {
            f.put("reason_code", format!("{:?}", d.reason_code));
            if let Some(props) = &d.properties {
                f.opt("reason_string", props.reason_string.as_ref());
                f.users(&props.user_properties);
            }
        }
        P::PubRec(a) => f.put("packet_id", a.pkid),
        P::PubRel(a) => f.put("packet_id", a.pkid),
        P::PubComp(a) => f.put("packet_id", a.pkid),
        P::PingReq(_) | P::PingResp(_) | P::Auth(_) => {}
    }
}

pub fn v4_fields(p: &v4::Packet, f: &mut Fields) {
    use v4::Packet as P;
    f.put("version", "3.1.1");
    match p {
        P::Connect(c) => {
            f.put("client_id", &c.client_id);
            f.put("keep_alive", c.keep_alive);
            f.put("clean_session", c.clean_session);
            if let Some(w) = &c.last_will {
                f.put("will_topic", &w.topic);
                f.put("will_qos", w.qos as u8);
            }
            if let Some(l) = &c.login {
                f.put("username", &l.username);
            }
        }
        P::ConnAck(a) => {
            f.put("reason_code", format!("{:?}", a.code));
            f.put("session_present", a.session_present);
        }
        P::Publish(p) => {
            f.put("topic", &p.topic);
            f.put("qos", p.qos as u8);
            f.put("retain", p.retain);
            f.put("payload_bytes", p.payload.len());
        }
        P::Subscribe(s) => {
            f.put("packet_id", s.pkid);
            for filter in &s.filters {
                f.put("topic_filter", &filter.path);
                f.put("qos", filter.qos as u8);
            }
        }
        P::SubAck(a) => {
            f.put("packet_id", a.pkid);
            for code in &a.return_codes {
                f.put("reason_code", format!("{code:?}"));
            }
        }
        P::Unsubscribe(u) => {
            f.put("packet_id", u.pkid);
            for topic in &u.topics {
                f.put("topic_filter", topic);
            }
        }
        P::UnsubAck(a) => f.put("packet_id", a.pkid),
        P::PubAck(a) => f.put("packet_id", a.pkid),
        P::PubRec(a) => f.put("packet_id", a.pkid),
        P::PubRel(a) => f.put("packet_id", a.pkid),
        P::PubComp(a) => f.put("packet_id", a.pkid),
        P::PingReq | P::PingResp | P::Disconnect => {}
    }
}
