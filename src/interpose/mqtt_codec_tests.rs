use bytes::Bytes;
use proptest::prelude::*;
use rumqttc::v5::mqttbytes::v5;
use rumqttc::v5::mqttbytes::QoS;

use super::*;

fn connect_v5(client_id: &str, users: Vec<(String, String)>, rri: Option<u8>) -> Packet {
    let mut props = v5::ConnectProperties::new();
    props.request_response_info = rri;
    props.user_properties = users;
    Packet::V5(v5::Packet::Connect(
        v5::Connect {
            keep_alive: 30,
            client_id: client_id.into(),
            clean_start: true,
            // An empty property list decodes as `None`: same bytes.
            properties: (props != v5::ConnectProperties::new()).then_some(props),
        },
        None,
        None,
    ))
}

fn publish_v5(topic: &str, response_topic: Option<String>, content_type: Option<String>) -> Packet {
    Packet::V5(v5::Packet::Publish(v5::Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: Bytes::from(topic.to_string()),
        pkid: 7,
        payload: Bytes::from_static(b"\x0a\x031.4"),
        properties: Some(v5::PublishProperties {
            payload_format_indicator: None,
            message_expiry_interval: None,
            topic_alias: None,
            response_topic,
            correlation_data: None,
            user_properties: vec![("usp-endpoint-id".into(), "os::a".into())],
            subscription_identifiers: vec![],
            content_type,
        }),
    }))
}

#[test]
fn frames_are_cut_only_when_whole() {
    let bytes = encode(&connect_v5("c", vec![], Some(1))).unwrap();
    assert_eq!(frame_len(&bytes[..1]), Ok(None));
    assert_eq!(frame_len(&bytes[..bytes.len() - 1]), Ok(None));
    assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
    let mut two = bytes.clone();
    two.extend_from_slice(&bytes);
    assert_eq!(frame_len(&two), Ok(Some(bytes.len())));
    // Five continuation bytes: no valid Remaining Length.
    assert_eq!(
        frame_len(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
        Err(CodecError::BadLength)
    );
}

#[test]
fn connect_tells_the_version() {
    let v5_bytes = encode(&connect_v5("c", vec![], None)).unwrap();
    assert_eq!(connect_version(&v5_bytes), Ok(Version::V5));
    let v4 = Packet::V4(v4::Packet::Connect(v4::Connect::new("c")));
    assert_eq!(connect_version(&encode(&v4).unwrap()), Ok(Version::V311));
    // A PUBLISH first is no MQTT session start.
    let publish = encode(&publish_v5("t", None, None)).unwrap();
    assert_eq!(connect_version(&publish), Err(CodecError::NotConnect));
}

#[test]
fn zero_length_disconnect_is_a_normal_disconnection() {
    // MQTT 5 §3.14.2.1; rumqttc alone refuses it.
    let p = decode(Version::V5, &[0xe0, 0x00]).unwrap();
    let s = summarize(&[0xe0, 0x00], &p);
    assert_eq!(s.packet, "DISCONNECT");
    assert_eq!(
        s.values("reason_code").collect::<Vec<_>>(),
        ["NormalDisconnection"]
    );
}

#[test]
fn summary_names_the_usp_fields() {
    let p = connect_v5(
        "os::agent",
        vec![("usp-endpoint-id".into(), "os::agent".into())],
        Some(1),
    );
    let bytes = encode(&p).unwrap();
    let s = summarize(&bytes, &decode(Version::V5, &bytes).unwrap());
    assert_eq!(s.packet, "CONNECT");
    assert_eq!(s.values("client_id").next(), Some("os::agent"));
    assert_eq!(s.values("request_response_information").next(), Some("1"));
    assert_eq!(
        s.values("user_property:usp-endpoint-id").next(),
        Some("os::agent")
    );
    // Negative twin: without the property, no field.
    let bare = encode(&connect_v5("x", vec![], None)).unwrap();
    let s = summarize(&bare, &decode(Version::V5, &bare).unwrap());
    assert_eq!(s.values("request_response_information").next(), None);

    let pubb = encode(&publish_v5(
        "usp/c",
        Some("usp/a".into()),
        Some("usp.msg".into()),
    ))
    .unwrap();
    let s = summarize(&pubb, &decode(Version::V5, &pubb).unwrap());
    assert_eq!(s.flags, 0b0010, "QoS 1 in the fixed header");
    assert_eq!(s.values("response_topic").next(), Some("usp/a"));
    assert_eq!(s.values("content_type").next(), Some("usp.msg"));
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [
        &[0x10, 0x02, 0x00, 0x04][..],
        &[0x30, 0x01, 0xff],
        &[0xf0, 0x00],
    ] {
        let _ = decode(Version::V5, bad);
        let _ = decode(Version::V311, bad);
    }
    assert!(decode(Version::V5, &[0x10, 0x02, 0x00, 0x04]).is_err());
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/:._-]{0,20}"
}

proptest! {
    /// rumqttc's codec, as used here, gives back what it was given for the
    /// packets USP relies on, user properties included.
    #[test]
    fn v5_round_trip(
        id in text(),
        topic in "[a-z/]{1,20}",
        users in prop::collection::vec((text(), text()), 0..4),
        rri in prop::option::of(0u8..2),
        rt in prop::option::of(text()),
        ct in prop::option::of(text()),
    ) {
        for p in [connect_v5(&id, users.clone(), rri), publish_v5(&topic, rt.clone(), ct.clone())] {
            let bytes = encode(&p).unwrap();
            prop_assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
            prop_assert_eq!(decode(Version::V5, &bytes).unwrap(), p);
        }
        let props = v5::ConnAckProperties {
            user_properties: users.clone(),
            response_information: rt.clone(),
            assigned_client_identifier: ct.clone(),
            server_keep_alive: rri.map(u16::from),
            ..crate::interpose::mqtt_steer::tests::connack_props()
        };
        let empty = props == crate::interpose::mqtt_steer::tests::connack_props();
        let ack = Packet::V5(v5::Packet::ConnAck(v5::ConnAck {
            session_present: false,
            code: v5::ConnectReturnCode::Success,
            properties: (!empty).then_some(props),
        }));
        let bytes = encode(&ack).unwrap();
        prop_assert_eq!(decode(Version::V5, &bytes).unwrap(), ack);
    }
}
