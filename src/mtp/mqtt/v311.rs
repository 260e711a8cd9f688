//! The MQTT 3.1.1 session over rumqttc's v4 client: no properties, so the
//! reply-to topic rides in the topic name (R-MQTT.24) and we subscribe to
//! the wildcard form of our topic to receive it.

use rumqttc::{
    AsyncClient, ConnAck, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions,
    Packet, QoS, SubscribeReasonCode,
};
use tokio::sync::mpsc;

use super::release_event_room;
use super::{
    connect_failed, handshake_failed, network_options, topics_to_subscribe, Delivery, Link,
    MqttConfig, Publisher, HANDSHAKE_TIMEOUT, MAX_PACKET, OUTGOING_IN_FLIGHT,
};
use crate::mtp::MtpError;

fn qos(level: u8) -> QoS {
    if level == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

pub(super) async fn open(cfg: &MqttConfig, host: &str, port: u16) -> Result<Link, MtpError> {
    // R-MQTT.11: 3.1.1 clients use their Endpoint ID unless one is configured.
    let mut opts = MqttOptions::new(cfg.client_id(), host, port);
    opts.set_keep_alive(cfg.keep_alive)
        .set_clean_session(true)
        .set_inflight(OUTGOING_IN_FLIGHT)
        .set_max_packet_size(MAX_PACKET as usize, MAX_PACKET as usize);
    if let Some(user) = &cfg.username {
        // R-MQTT.7
        opts.set_credentials(user.clone(), cfg.password.clone().unwrap_or_default());
    }
    let (client, mut events) = AsyncClient::new(opts, 64);
    release_event_room(&mut events.state.events);
    events.set_network_options(network_options());
    let connack = tokio::time::timeout(HANDSHAKE_TIMEOUT, wait_connack(&mut events))
        .await
        .map_err(|_| MtpError::Timeout(HANDSHAKE_TIMEOUT.as_millis() as u64))?
        .map_err(|e| match e {
            ConnectionError::ConnectionRefused(code) => {
                handshake_failed(format!("the broker refused CONNECT: {code:?}"))
            }
            other => connect_failed(cfg, other),
        })?;
    if connack.code != ConnectReturnCode::Success {
        return Err(handshake_failed(format!(
            "the broker refused CONNECT: {:?}",
            connack.code
        )));
    }
    let topics = topics_to_subscribe(cfg, None);
    for topic in &topics {
        client
            .subscribe(topic.clone(), qos(cfg.qos))
            .await
            .map_err(|e| handshake_failed(format!("cannot SUBSCRIBE to '{topic}': {e}")))?;
    }
    let (tx, inbox) = mpsc::unbounded_channel();
    let subscribed = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        wait_subacks(&mut events, topics.len(), &tx),
    )
    .await
    .map_err(|_| MtpError::Timeout(HANDSHAKE_TIMEOUT.as_millis() as u64))?;
    if let Err(why) = subscribed {
        // R-MQTT.16/17: without a subscription there is nothing to serve.
        let _ = client.disconnect().await;
        return Err(handshake_failed(format!(
            "SUBSCRIBE to {} failed: {why}",
            topics.join(", ")
        )));
    }
    let driver = tokio::spawn(drive(events, tx));
    Ok(Link {
        publisher: Publisher::V311(client),
        inbox,
        driver,
        response_information: None,
        fixed_topics: topics,
        row_topics: Default::default(),
    })
}

async fn wait_connack(events: &mut EventLoop) -> Result<ConnAck, ConnectionError> {
    loop {
        if let Event::Incoming(Packet::ConnAck(ack)) = events.poll().await? {
            return Ok(ack);
        }
    }
}

async fn wait_subacks(
    events: &mut EventLoop,
    mut expected: usize,
    tx: &mpsc::UnboundedSender<Result<Delivery, MtpError>>,
) -> Result<(), String> {
    while expected > 0 {
        match events.poll().await.map_err(|e| e.to_string())? {
            Event::Incoming(Packet::SubAck(ack)) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure))
                {
                    return Err("the broker answered Failure".into());
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

async fn drive(mut events: EventLoop, tx: mpsc::UnboundedSender<Result<Delivery, MtpError>>) {
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if tx.send(Ok(delivery(p))).is_err() {
                    return;
                }
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

fn delivery(p: rumqttc::Publish) -> Delivery {
    Delivery {
        topic: p.topic,
        payload: p.payload.to_vec(),
        response_topic: None,
        content_type: None,
    }
}

pub(super) async fn publish(
    client: &AsyncClient,
    topic: &str,
    level: u8,
    record: &[u8],
) -> Result<(), MtpError> {
    client
        .publish(topic, qos(level), false, record.to_vec())
        .await
        // rumqttc refuses a request once its event loop has ended, which
        // here means the connection to the broker was lost.
        .map_err(|e| {
            MtpError::Io(format!(
                "cannot PUBLISH to '{topic}': the MQTT connection to the broker ended ({e})"
            ))
        })
}
