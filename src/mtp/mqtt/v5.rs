//! The MQTT 5 session over rumqttc's v5 client: CONNECT with the
//! `usp-endpoint-id` User Property and Request Response Information
//! (R-MQTT.12/13), SUBSCRIBE checked before use (R-MQTT.16), and PUBLISH
//! with Response Topic and Content Type (R-MQTT.23/27).

use rumqttc::v5::mqttbytes::v5::{
    ConnAck, Packet, Publish, PublishProperties, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions};
use tokio::sync::mpsc;

use super::{
    binding, connect_failed, handshake_failed, network_options, release_event_room,
    topics_to_subscribe, Delivery, Link, MqttConfig, Publisher, HANDSHAKE_TIMEOUT, MAX_PACKET,
    OUTGOING_IN_FLIGHT,
};
use crate::mtp::MtpError;

pub(super) fn qos(level: u8) -> QoS {
    if level == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

pub(super) async fn open(cfg: &MqttConfig, host: &str, port: u16) -> Result<Link, MtpError> {
    let mut opts = MqttOptions::new(cfg.client_id(), host, port);
    opts.set_keep_alive(cfg.keep_alive)
        .set_clean_start(true)
        .set_max_packet_size(Some(MAX_PACKET))
        .set_outgoing_inflight_upper_limit(OUTGOING_IN_FLIGHT)
        .set_network_options(network_options())
        // R-MQTT.12: ask the broker for a reply-to topic.
        .set_request_response_info(
            (!cfg.omit_request_response_information && !cfg.model_request_response_info_off)
                .then_some(1),
        )
        // R-MQTT.13: name ourselves to the broker.
        .set_user_properties(binding::connect_user_properties(&cfg.endpoint_id));
    if let Some(user) = &cfg.username {
        // R-MQTT.7
        opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    let (client, mut events) = AsyncClient::new(opts, 64);
    release_event_room(&mut events.state.events);
    let connack = tokio::time::timeout(HANDSHAKE_TIMEOUT, wait_connack(&mut events))
        .await
        .map_err(|_| MtpError::Timeout(HANDSHAKE_TIMEOUT.as_millis() as u64))?
        .map_err(|e| match e {
            ConnectionError::ConnectionRefused(code) => {
                handshake_failed(format!("the broker refused CONNECT: {code:?}"))
            }
            other => connect_failed(cfg, other),
        })?;
    let response_information = connack
        .properties
        .as_ref()
        .and_then(|p| p.response_information.clone());
    if cfg.ignore_server_keep_alive
        && connack
            .properties
            .as_ref()
            .is_some_and(|p| p.server_keep_alive.is_some())
    {
        // The fault: rumqttc adopted the broker's value (its first ping
        // timer already runs on it); back to our own from the next one.
        events.options.set_keep_alive(cfg.keep_alive);
    }
    cfg.keep_assigned_client_id(
        connack
            .properties
            .as_ref()
            .and_then(|p| p.assigned_client_identifier.as_ref()),
    );
    let mut topics = topics_to_subscribe(cfg, response_information.as_deref());
    let named: Vec<&String> = connack
        .properties
        .iter()
        .flat_map(|p| &p.user_properties)
        .filter(|(k, _)| k == "subscribe-topic")
        .map(|(_, topic)| topic)
        .collect();
    // R-MQTT.16: an Agent told no subscribe-topic and configured with no
    // topic filter ends the session. Only a client that follows its model
    // has a Subscription table to look at.
    if cfg.follow_model
        && !cfg.stay_without_subscribe_topic
        && named.is_empty()
        && cfg.model_subscriptions.is_empty()
    {
        disconnect_now(&client, &mut events).await;
        return Err(handshake_failed(
            "R-MQTT.16: CONNACK named no subscribe-topic and Device.MQTT.Client.1.Subscription has no enabled row: disconnected",
        ));
    }
    if !cfg.ignore_subscribe_topic {
        // R-MQTT.15: also every topic the broker names in `subscribe-topic`.
        for topic in named {
            if !topics.contains(topic) {
                topics.push(topic.clone());
            }
        }
    }
    // Each with the QoS of its Subscription row (TR-181 Subscription.{i}.QoS).
    let mut filters: Vec<(String, u8)> = topics.iter().map(|t| (t.clone(), cfg.qos)).collect();
    let mut row_topics = std::collections::BTreeMap::new();
    for (topic, level) in &cfg.model_subscriptions {
        row_topics.insert(topic.clone(), *level);
        if !topics.contains(topic) {
            filters.push((topic.clone(), *level));
        }
    }
    for (topic, level) in &filters {
        client
            .subscribe(topic.clone(), qos(*level))
            .await
            .map_err(|e| handshake_failed(format!("cannot SUBSCRIBE to '{topic}': {e}")))?;
    }
    let (tx, inbox) = mpsc::unbounded_channel();
    let subscribed = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        wait_subacks(&mut events, filters.len(), &tx),
    )
    .await
    .map_err(|_| MtpError::Timeout(HANDSHAKE_TIMEOUT.as_millis() as u64))?;
    if let Err(why) = subscribed {
        // R-MQTT.16/17: without a subscription there is nothing to serve.
        disconnect_now(&client, &mut events).await;
        let names: Vec<&str> = filters.iter().map(|(t, _)| t.as_str()).collect();
        return Err(handshake_failed(format!(
            "SUBSCRIBE to {} failed: {why}",
            names.join(", ")
        )));
    }
    let driver = tokio::spawn(drive(events, tx));
    Ok(Link {
        publisher: Publisher::V5(client),
        inbox,
        driver,
        response_information,
        fixed_topics: topics,
        row_topics,
    })
}

/// Sends DISCONNECT and runs the event loop until it is on the wire (it
/// never got there without: the interposer showed it).
async fn disconnect_now(client: &AsyncClient, events: &mut EventLoop) {
    if client.disconnect().await.is_ok() {
        let _ = tokio::time::timeout(super::CLOSE_GRACE, async {
            while let Ok(event) = events.poll().await {
                if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
}

async fn wait_connack(events: &mut EventLoop) -> Result<ConnAck, ConnectionError> {
    loop {
        if let Event::Incoming(Packet::ConnAck(ack)) = events.poll().await? {
            return Ok(ack);
        }
    }
}

/// Polls until `expected` SUBACKs came back, each granting every filter;
/// PUBLISHes that arrive meanwhile are kept for the connection.
async fn wait_subacks(
    events: &mut EventLoop,
    mut expected: usize,
    tx: &mpsc::UnboundedSender<Result<Delivery, MtpError>>,
) -> Result<(), String> {
    while expected > 0 {
        match events.poll().await.map_err(|e| e.to_string())? {
            Event::Incoming(Packet::SubAck(ack)) => {
                if let Some(bad) = ack
                    .return_codes
                    .iter()
                    .find(|c| !matches!(c, SubscribeReasonCode::Success(_)))
                {
                    return Err(format!("the broker answered {bad:?}"));
                }
                expected -= 1;
            }
            Event::Incoming(Packet::Publish(p)) => {
                let _ = tx.send(Ok(delivery(p)));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The event loop after the handshake: forwards PUBLISHes and ends on the
/// first connection error (the connector reconnects, not rumqttc).
async fn drive(mut events: EventLoop, tx: mpsc::UnboundedSender<Result<Delivery, MtpError>>) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(Ok(delivery(p))).is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Disconnect(d))) => {
                let _ = tx.send(Err(MtpError::Closed {
                    code: None,
                    reason: format!("the broker sent DISCONNECT ({:?})", d.reason_code),
                }));
                return;
            }
            Ok(_) => {}
            Err(e) => {
                let _ = tx.send(Err(MtpError::Closed {
                    code: None,
                    reason: format!("MQTT connection to the broker ended: {e}"),
                }));
                return;
            }
        }
    }
}

fn delivery(p: Publish) -> Delivery {
    let props = p.properties.unwrap_or_default();
    Delivery {
        topic: String::from_utf8_lossy(&p.topic).into_owned(),
        payload: p.payload.to_vec(),
        response_topic: props.response_topic,
        content_type: props.content_type,
    }
}

/// Where and how one Record is published.
pub(super) struct Outgoing<'a> {
    pub topic: &'a str,
    /// Always set, except by the reference Agent's `no-response-topic` fault.
    pub reply_topic: Option<&'a str>,
    /// `usp.msg`, except under the `wrong-content-type` fault.
    pub content_type: &'a str,
    pub qos: u8,
}

pub(super) async fn publish(
    client: &AsyncClient,
    out: &Outgoing<'_>,
    record: &[u8],
) -> Result<(), MtpError> {
    let properties = PublishProperties {
        // R-MQTT.22/23: every USP PUBLISH names where to answer.
        response_topic: out.reply_topic.map(str::to_string),
        // R-MQTT.27
        content_type: Some(out.content_type.to_string()),
        ..Default::default()
    };
    let topic = out.topic;
    client
        .publish_with_properties(topic, qos(out.qos), false, record.to_vec(), properties)
        .await
        // rumqttc refuses a request once its event loop has ended, which
        // here means the connection to the broker was lost.
        .map_err(|e| {
            MtpError::Io(format!(
                "cannot PUBLISH to '{topic}': the MQTT connection to the broker ended ({e})"
            ))
        })
}
