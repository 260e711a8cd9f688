use rumqttc::v5::mqttbytes::v5;
use rumqttc::v5::mqttbytes::QoS;

use super::*;
use crate::interpose::mqtt_codec::{decode, encode, summarize};

pub fn connack_props() -> v5::ConnAckProperties {
    empty_connack_properties()
}

fn connack(users: Vec<(String, String)>) -> Packet {
    Packet::V5(v5::Packet::ConnAck(v5::ConnAck {
        session_present: false,
        code: v5::ConnectReturnCode::Success,
        properties: Some(v5::ConnAckProperties {
            user_properties: users,
            ..connack_props()
        }),
    }))
}

fn fields_after(steering: &Steering, mut p: Packet) -> (Option<String>, Vec<(String, String)>) {
    let note = steering.to_agent(&mut p);
    let bytes = encode(&p).unwrap();
    let back = decode(Version::V5, &bytes).unwrap();
    (note, summarize(&bytes, &back).fields)
}

#[test]
fn connack_gets_subscribe_topic_and_response_information() {
    let s = Steering {
        add_subscribe_topic: vec!["usp/steered/#".into()],
        response_information: Some("usp/reply".into()),
        assigned_client_identifier: Some("given".into()),
        server_keep_alive: Some(5),
        ..Steering::default()
    };
    let (note, fields) = fields_after(&s, connack(vec![]));
    assert!(note
        .unwrap()
        .contains("subscribe-topic 'usp/steered/#' added"));
    for want in [
        ("user_property:subscribe-topic", "usp/steered/#"),
        ("response_information", "usp/reply"),
        ("assigned_client_identifier", "given"),
        ("server_keep_alive", "5"),
    ] {
        assert!(
            fields.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {fields:?}"
        );
    }
    // Negative twin: no steering, no change.
    let (note, fields) = fields_after(&Steering::default(), connack(vec![]));
    assert_eq!(note, None);
    assert!(!fields
        .iter()
        .any(|(k, _)| k == "user_property:subscribe-topic"));
}

#[test]
fn remove_drops_only_subscribe_topic() {
    let s = Steering {
        remove_subscribe_topic: true,
        ..Steering::default()
    };
    let users = vec![
        (SUBSCRIBE_TOPIC.to_string(), "a".to_string()),
        ("other".to_string(), "b".to_string()),
    ];
    let (_, fields) = fields_after(&s, connack(users));
    assert!(!fields
        .iter()
        .any(|(k, _)| k == "user_property:subscribe-topic"));
    assert!(fields.contains(&("user_property:other".into(), "b".into())));
}

#[test]
fn suback_fails_with_the_named_reason() {
    let suback = || {
        Packet::V5(v5::Packet::SubAck(v5::SubAck {
            pkid: 1,
            return_codes: vec![v5::SubscribeReasonCode::Success(QoS::AtLeastOnce)],
            properties: None,
        }))
    };
    let s = Steering {
        fail_suback: Some("NotAuthorized".into()),
        ..Steering::default()
    };
    let (_, fields) = fields_after(&s, suback());
    assert!(
        fields.contains(&("reason_code".into(), "NotAuthorized".into())),
        "{fields:?}"
    );
    let (note, fields) = fields_after(&Steering::default(), suback());
    assert_eq!(note, None);
    assert!(fields.contains(&("reason_code".into(), "Success(AtLeastOnce)".into())));
}

#[test]
fn bad_names_are_refused_before_the_run() {
    let s = Steering {
        fail_suback: Some("Nope".into()),
        ..Steering::default()
    };
    assert_eq!(s.validate(), Err(SteerError::SubAckReason("Nope".into())));
    let s = Steering {
        refuse_reason: Some("Later".into()),
        ..Steering::default()
    };
    assert!(s.validate().is_err());
    assert_eq!(Steering::default().validate(), Ok(()));
}

#[test]
fn refusal_and_disconnect_encode() {
    let r = refusal(Version::V5, Some("ServerBusy"));
    let bytes = encode(&r).unwrap();
    let f = summarize(&bytes, &decode(Version::V5, &bytes).unwrap()).fields;
    assert!(
        f.contains(&("reason_code".into(), "ServerBusy".into())),
        "{f:?}"
    );
    assert!(encode(&refusal(Version::V311, None)).is_ok());
    assert!(disconnect(Version::V5).is_some());
    assert!(disconnect(Version::V311).is_none());
}

#[test]
fn closed_is_a_refusal_without_connack() {
    let s = Steering {
        refuse_connections: 2,
        refuse_reason: Some(CLOSED.into()),
        ..Steering::default()
    };
    assert_eq!(s.validate(), Ok(()));
    assert!(s.refuses_by_closing());
    let connack_refusal = Steering {
        refuse_reason: Some("ServerBusy".into()),
        ..Steering::default()
    };
    assert!(!connack_refusal.refuses_by_closing());
    let typo = Steering {
        refuse_reason: Some("Close".into()),
        ..Steering::default()
    };
    assert!(typo.validate().unwrap_err().to_string().contains("Closed"));
}

#[test]
fn the_interposers_disconnect_is_well_formed() {
    let p = disconnect(Version::V5).expect("MQTT 5 has DISCONNECT");
    let bytes = encode(&p).unwrap();
    // Remaining Length covers exactly what follows the fixed header.
    assert_eq!(bytes[1] as usize, bytes.len() - 2, "{bytes:02x?}");
    let back = decode(Version::V5, &bytes).expect("decodes");
    let fields = summarize(&bytes, &back).fields;
    assert!(
        fields
            .iter()
            .any(|(k, v)| k == "reason_code" && v.contains("AdministrativeAction")),
        "{fields:?}"
    );
    assert!(disconnect(Version::V311).is_none());
}

#[test]
fn the_interposers_refusal_is_well_formed() {
    for version in [Version::V5, Version::V311] {
        let bytes = encode(&refusal(version, None)).unwrap();
        assert_eq!(
            bytes[1] as usize,
            bytes.len() - 2,
            "{version:?}: {bytes:02x?}"
        );
        assert!(decode(version, &bytes).is_ok(), "{version:?}");
    }
}
