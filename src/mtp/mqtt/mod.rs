//! The MQTT MTP (MQTT 5, and 3.1.1) as a broker client: an endpoint that
//! connects to the broker, subscribes to its own topic and yields a
//! connection that publishes Records to the peer's topic and receives the
//! Records published to its own. The binding rules live in `binding`, the
//! rumqttc event loops in `v5` and `v311`.

pub mod binding;
mod tls_relay;
mod v311;
mod v5;

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Inbound, ModelRow, ModelView, MtpConnection, MtpConnector, MtpError, PeerInfo};
use crate::usp::proto::record::Record;
use crate::usp::record;
pub use binding::MqttVersion;
pub use tls_relay::MqttTls;
use tls_relay::TlsRelay;

const MTP: &str = "MQTT";
/// How long CONNECT/CONNACK and SUBSCRIBE/SUBACK may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// `KeepAliveTime` default of `Device.MQTT.Client.{i}.` (R-MQTT.14).
const KEEP_ALIVE: Duration = Duration::from_secs(60);
/// rumqttc's smallest Keep Alive.
const MIN_KEEP_ALIVE_S: u64 = 5;
/// The reference Agent's MQTT client in its data model.
const MODEL_CLIENT: &str = "Device.MQTT.Client.1.";
/// Its configured topic filters (R-MQTT.15, TR-181 MQTTClientSubscribe:1).
const MODEL_SUBSCRIPTIONS: &str = "Device.MQTT.Client.1.Subscription.";
/// Largest packet we accept: GetSupportedDM answers outgrow rumqttc's 10 KiB default.
const MAX_PACKET: u32 = 16 * 1024 * 1024;
/// QoS 1 PUBLISHes sent and not yet acknowledged, at most. rumqttc keeps a
/// table with a slot for each at connect (its MQTT 5 default, u16::MAX,
/// was ~14 MiB per client); a USP endpoint here has one or two in flight,
/// and more wait their turn (nothing is dropped).
const OUTGOING_IN_FLIGHT: u16 = 16;

/// rumqttc makes room for 100 events per client when it is made (~39 KiB
/// with MQTT 5's packet type); the event loop here takes each event as it
/// comes, so that room is given back, and grows again only if needed.
fn release_event_room<T>(events: &mut std::collections::VecDeque<T>) {
    events.shrink_to_fit();
}
/// How long `close` waits for DISCONNECT to leave.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Everything one MQTT endpoint needs to know.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker `host:port`.
    pub broker: String,
    pub version: MqttVersion,
    /// Our Endpoint ID (CONNECT User Property, default ClientId).
    pub endpoint_id: String,
    /// ClientId; our Endpoint ID when absent (R-MQTT.9/11).
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The exact topic we subscribe to and announce as reply-to.
    pub own_topic: String,
    /// The peer's topic when known from configuration; otherwise learnt
    /// from the reply-to of its first PUBLISH (R-MQTT.26).
    pub peer_topic: Option<String>,
    /// 0 or 1 (R-MQTT.20).
    pub qos: u8,
    /// TLS to the broker (R-MQTT.48), through our own relay.
    pub tls: Option<MqttTls>,
    /// Misbehaviour for the reference Agent's `no-response-topic` fault:
    /// PUBLISH without reply-to (breaking R-MQTT.23 / R-MQTT.24).
    pub omit_reply_to: bool,
    /// Misbehaviour for the `wrong-content-type` fault: this MQTT 5
    /// Content Type instead of `usp.msg` (breaking R-MQTT.27).
    pub content_type: Option<String>,
    /// Misbehaviour for the `ignores-subscribe-topic` fault: CONNACK's
    /// `subscribe-topic` User Properties are not subscribed to (R-MQTT.15).
    pub ignore_subscribe_topic: bool,
    /// Misbehaviour for the `no-request-response-information` fault: no
    /// Request Response Information in CONNECT (R-MQTT.12).
    pub omit_request_response_information: bool,
    /// Follow the Agent's data model (`MtpConnector::configure`): ClientID
    /// and KeepAliveTime of `Device.MQTT.Client.1.` at every connect.
    pub follow_model: bool,
    /// CONNECT Keep Alive (R-MQTT.14); `KeepAliveTime` when following the model.
    pub keep_alive: Duration,
    /// `Device.MQTT.Client.1.ClientID` as last read from the model.
    pub model_client_id: Option<String>,
    /// `Device.MQTT.Client.1.RequestResponseInfo` is false in the model:
    /// CONNECT asks for no Response Information (R-MQTT.12 asks only that
    /// the Agent can ask).
    pub model_request_response_info_off: bool,
    /// The ClientId of the next CONNECT, decided per attempt by the endpoint.
    session_client_id: Option<String>,
    /// The broker's Assigned Client Identifier, kept from the CONNACK on
    /// (even when the session fails later) for the next CONNECT while no
    /// ClientID is configured (R-MQTT.9).
    assigned: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// Misbehaviour for the `new-client-id-on-reconnect` fault (R-MQTT.8).
    pub new_client_id_on_reconnect: bool,
    /// Misbehaviour for the `ignores-assigned-client-identifier` fault (R-MQTT.9).
    pub ignore_assigned_client_identifier: bool,
    /// Misbehaviour for the `ignores-keep-alive-time` fault (R-MQTT.14).
    pub ignore_keep_alive_time: bool,
    /// Misbehaviour for the `ignores-server-keep-alive` fault (MQTT 5
    /// §3.2.2.3.14: the Server Keep Alive replaces the client's).
    pub ignore_server_keep_alive: bool,
    /// The enabled rows of `Device.MQTT.Client.1.Subscription.` as last
    /// read from the model (following it): topic filter and QoS.
    pub model_subscriptions: Vec<(String, u8)>,
    /// Misbehaviour for the `mqtt-stays-without-subscribe-topic` fault (R-MQTT.16).
    pub stay_without_subscribe_topic: bool,
    /// Misbehaviour for the `mqtt-ignores-new-subscription` fault (R-MQTT.15/34).
    pub ignore_new_subscription: bool,
    /// Misbehaviour for the `mqtt-wrong-qos` fault (Subscription.{i}.QoS).
    pub subscribe_at_qos_0: bool,
}

impl MqttConfig {
    pub fn new(broker: &str, version: MqttVersion, endpoint_id: &str, own_topic: &str) -> Self {
        MqttConfig {
            broker: broker.to_string(),
            version,
            endpoint_id: endpoint_id.to_string(),
            client_id: None,
            username: None,
            password: None,
            own_topic: own_topic.to_string(),
            peer_topic: None,
            qos: 1,
            tls: None,
            omit_reply_to: false,
            content_type: None,
            ignore_subscribe_topic: false,
            omit_request_response_information: false,
            follow_model: false,
            keep_alive: KEEP_ALIVE,
            model_client_id: None,
            model_request_response_info_off: false,
            session_client_id: None,
            assigned: Default::default(),
            new_client_id_on_reconnect: false,
            ignore_assigned_client_identifier: false,
            ignore_keep_alive_time: false,
            ignore_server_keep_alive: false,
            model_subscriptions: Vec::new(),
            stay_without_subscribe_topic: false,
            ignore_new_subscription: false,
            subscribe_at_qos_0: false,
        }
    }

    pub fn with_tls(mut self, tls: Option<MqttTls>) -> Self {
        self.tls = tls;
        self
    }

    pub fn with_peer_topic(mut self, topic: Option<String>) -> Self {
        self.peer_topic = topic;
        self
    }

    fn client_id(&self) -> String {
        match &self.session_client_id {
            Some(id) => id.clone(),
            None => binding::client_id(self.client_id.as_deref(), &self.endpoint_id),
        }
    }

    fn assigned_client_id(&self) -> Option<String> {
        self.assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Keeps the CONNACK's Assigned Client Identifier when this CONNECT
    /// had an empty ClientId (R-MQTT.9).
    fn keep_assigned_client_id(&self, assigned: Option<&String>) {
        let empty = self.client_id().is_empty();
        if let Some(id) = assigned.filter(|_| empty && !self.ignore_assigned_client_identifier) {
            *self.assigned.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        }
    }

    fn host_port(&self) -> Result<(String, u16), MtpError> {
        let bad = |why: &str| MtpError::Connect {
            address: self.broker.clone(),
            reason: format!("{why}; write the broker as HOST:PORT, e.g. 127.0.0.1:1883"),
        };
        let (host, port) = self.broker.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port = port.parse().map_err(|_| bad("the port is not a number"))?;
        Ok((host.trim_matches(['[', ']']).to_string(), port))
    }
}

/// One PUBLISH as received, version-neutral.
#[derive(Debug)]
struct Delivery {
    topic: String,
    payload: Vec<u8>,
    /// MQTT 5 Response Topic property.
    response_topic: Option<String>,
    /// MQTT 5 Content Type property.
    content_type: Option<String>,
}

/// The sending half of a broker session.
enum Publisher {
    V5(rumqttc::v5::AsyncClient),
    V311(rumqttc::AsyncClient),
}

/// An established broker session: the client, the inbox its event-loop
/// task fills, and that task.
struct Link {
    publisher: Publisher,
    inbox: mpsc::UnboundedReceiver<Result<Delivery, MtpError>>,
    driver: JoinHandle<()>,
    /// Response Information from CONNACK (MQTT 5, R-MQTT.12).
    response_information: Option<String>,
    /// Topic filters subscribed for other reasons than a Subscription row
    /// (reply-to topic, CONNACK subscribe-topic): never unsubscribed.
    fixed_topics: Vec<String>,
    /// Subscription rows subscribed so far: topic filter to QoS.
    row_topics: std::collections::BTreeMap<String, u8>,
}

/// One broker session carrying Records between us and one peer.
pub struct MqttConnection {
    link: Link,
    version: MqttVersion,
    qos: u8,
    reply_topic: String,
    peer_topic: Option<String>,
    peer: PeerInfo,
    /// The TLS relay this session runs through; dropped with it.
    _relay: Option<TlsRelay>,
    /// Whether the Subscription table is followed while connected (the
    /// reference Agent over MQTT 5).
    follows_table: bool,
    /// The fault knobs of `MqttConfig`.
    omit_reply_to: bool,
    content_type: Option<String>,
    ignore_new_subscription: bool,
    subscribe_at_qos_0: bool,
}

impl MqttConnection {
    /// The topic our peers publish to (R-MQTT.15 / the Connect Record's subscribed_topic).
    pub fn reply_topic(&self) -> &str {
        &self.reply_topic
    }
}

impl Drop for MqttConnection {
    fn drop(&mut self) {
        self.link.driver.abort();
    }
}

#[async_trait]
impl MtpConnection for MqttConnection {
    async fn send(&mut self, record: &[u8]) -> Result<(), MtpError> {
        let Some(peer_topic) = self.peer_topic.as_deref() else {
            return Err(MtpError::Io(
                "no MQTT topic is known for the peer: configure it, or wait for a PUBLISH from it that carries a reply-to topic (R-MQTT.26)".into(),
            ));
        };
        let reply_topic = (!self.omit_reply_to).then_some(self.reply_topic.as_str());
        match &self.link.publisher {
            Publisher::V5(client) => {
                let content_type = self
                    .content_type
                    .as_deref()
                    .unwrap_or(binding::CONTENT_TYPE);
                let out = v5::Outgoing {
                    topic: peer_topic,
                    reply_topic,
                    content_type,
                    qos: self.qos,
                };
                v5::publish(client, &out, record).await
            }
            Publisher::V311(client) => {
                let topic = match reply_topic {
                    Some(reply) => binding::v311_publish_topic(peer_topic, reply),
                    None => peer_topic.to_string(),
                };
                v311::publish(client, &topic, self.qos, record).await
            }
        }
    }

    async fn recv(&mut self) -> Result<Inbound, MtpError> {
        // mpsc::Receiver::recv is cancel-safe, as the trait requires.
        let delivery = match self.link.inbox.recv().await {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(e),
            None => {
                return Err(MtpError::Closed {
                    code: None,
                    reason: "the MQTT event loop ended".into(),
                })
            }
        };
        if self.version == MqttVersion::V5 {
            if let Err(why) = binding::check_content_type(delivery.content_type.as_deref()) {
                return Ok(Inbound::Unusable(why));
            }
        }
        // R-MQTT.26: answers go to the reply-to of what we received; a
        // PUBLISH without one is set aside rather than answered elsewhere.
        match binding::require_reply_to(
            self.version,
            &delivery.topic,
            delivery.response_topic.as_deref(),
        ) {
            Ok(topic) => self.peer_topic = Some(topic),
            Err(why) => return Ok(Inbound::Unusable(why)),
        }
        Ok(Inbound::Record(delivery.payload))
    }

    async fn close(&mut self, _code: Option<u16>, _reason: &str) {
        let sent = match &self.link.publisher {
            Publisher::V5(c) => c.disconnect().await.is_ok(),
            Publisher::V311(c) => c.disconnect().await.is_ok(),
        };
        if sent {
            // Let the event loop put DISCONNECT on the wire; a broker that
            // is already gone is not worth waiting for.
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut self.link.driver).await;
        }
        self.link.driver.abort();
    }

    fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    fn certificate_names_the_peer(&self) -> bool {
        // The certificate is the broker's (R-SEC.10a is about the USP peer).
        false
    }

    fn connect_record(&self, agent_id: &str, controller_id: &str) -> Option<Record> {
        // subscribed_topic must be an exact topic, not the 3.1.1 wildcard form.
        Some(record::mqtt_connect(
            agent_id,
            controller_id,
            self.version.record_version(),
            &self.reply_topic,
        ))
    }

    fn followed_table(&self) -> Option<&str> {
        self.follows_table.then_some(MODEL_SUBSCRIPTIONS)
    }

    /// R-MQTT.15: a row enabled while connected is subscribed at once;
    /// R-MQTT.34: one disabled or deleted is unsubscribed, unless the
    /// topic is needed for another reason.
    async fn follow_table(&mut self, rows: &[ModelRow]) {
        if self.ignore_new_subscription {
            return;
        }
        let wanted = subscription_rows(rows, self.subscribe_at_qos_0);
        let wanted: std::collections::BTreeMap<String, u8> = wanted.into_iter().collect();
        let Publisher::V5(client) = &self.link.publisher else {
            return;
        };
        for (topic, qos) in &wanted {
            if self.link.row_topics.get(topic) != Some(qos) {
                // A failed request means the connection is gone; the next
                // one subscribes from the table anyway.
                let _ = client.subscribe(topic.clone(), v5::qos(*qos)).await;
            }
        }
        for topic in self.link.row_topics.keys() {
            if !wanted.contains_key(topic) && !self.link.fixed_topics.contains(topic) {
                let _ = client.unsubscribe(topic.clone()).await;
            }
        }
        self.link.row_topics = wanted;
    }
}

/// The enabled rows of a Subscription table with a topic: filter and QoS
/// (0 when unreadable; everything at 0 under the `mqtt-wrong-qos` fault).
fn subscription_rows(rows: &[ModelRow], all_at_qos_0: bool) -> Vec<(String, u8)> {
    rows.iter()
        .filter(|r| r.get("Enable").is_some_and(|e| e == "true" || e == "1"))
        .filter_map(|r| {
            let topic = r.get("Topic").filter(|t| !t.is_empty())?;
            let qos = r
                .get("QoS")
                .and_then(|q| q.trim().parse::<u8>().ok())
                .unwrap_or(0);
            Some((topic.clone(), if all_at_qos_0 { 0 } else { qos.min(2) }))
        })
        .collect()
}

/// A broker client that yields one `MqttConnection` per `establish`:
/// connect, subscribe to our topic, hand over.
pub struct MqttEndpoint {
    config: MqttConfig,
    /// A session opened ahead of time (see `connect_early`).
    ready: Option<MqttConnection>,
    /// Sessions opened so far.
    opens: u32,
}

impl MqttEndpoint {
    pub fn new(config: MqttConfig) -> Self {
        MqttEndpoint {
            config,
            ready: None,
            opens: 0,
        }
    }

    pub fn config(&self) -> &MqttConfig {
        &self.config
    }

    /// Connects and subscribes now, so that a peer's PUBLISH sent before
    /// the first `establish` (an Agent's Connect Record) is not lost: a
    /// broker does not keep messages for topics nobody subscribed to.
    pub async fn connect_early(&mut self) -> Result<(), MtpError> {
        self.ready = Some(self.open_session().await?);
        Ok(())
    }

    /// The ClientId of the next CONNECT: the configured ClientID; none
    /// configured, over MQTT 5 an empty one until the broker assigned one,
    /// then that one (R-MQTT.9), else the Endpoint ID (R-MQTT.11).
    fn next_client_id(&self) -> String {
        let cfg = &self.config;
        let configured = match cfg.follow_model {
            true => cfg.model_client_id.clone(),
            false => cfg.client_id.clone(),
        };
        match configured.filter(|c| !c.is_empty()) {
            Some(c) if cfg.new_client_id_on_reconnect && self.opens > 0 => {
                format!("{c}-r{}", self.opens)
            }
            Some(c) => c,
            None if cfg.follow_model && cfg.version == MqttVersion::V5 => {
                cfg.assigned_client_id().unwrap_or_default()
            }
            None => cfg.endpoint_id.clone(),
        }
    }

    /// Opens a session with the ClientId this attempt calls for and keeps
    /// what the broker assigned.
    async fn open_session(&mut self) -> Result<MqttConnection, MtpError> {
        self.config.session_client_id = Some(self.next_client_id());
        self.opens += 1;
        self.open().await
    }

    async fn open(&self) -> Result<MqttConnection, MtpError> {
        let cfg = &self.config;
        let (mut host, mut port) = cfg.host_port()?;
        // With TLS, rumqttc dials a fresh relay that holds the TLS session
        // to the broker (one per attempt: a reconnect is a new session).
        let relay = match &cfg.tls {
            Some(tls) => {
                let relay = TlsRelay::start(&cfg.broker, &host, port, tls).await?;
                host = "127.0.0.1".to_string();
                port = relay.local_port();
                Some(relay)
            }
            None => None,
        };
        let opened = match cfg.version {
            MqttVersion::V5 => v5::open(cfg, &host, port).await,
            MqttVersion::V3_1_1 => v311::open(cfg, &host, port).await,
        };
        let link = match opened {
            Ok(link) => link,
            // The relay knows why the TLS session ended (e.g. the broker
            // wanted a client certificate); rumqttc only saw a close.
            Err(e) => {
                return Err(relay
                    .as_ref()
                    .and_then(|r| r.failure(&cfg.broker))
                    .unwrap_or(e))
            }
        };
        let reply_topic =
            binding::reply_topic(&cfg.own_topic, link.response_information.as_deref());
        Ok(MqttConnection {
            version: cfg.version,
            qos: cfg.qos,
            reply_topic,
            peer_topic: cfg.peer_topic.clone(),
            follows_table: cfg.follow_model && cfg.version == MqttVersion::V5,
            omit_reply_to: cfg.omit_reply_to,
            content_type: cfg.content_type.clone(),
            ignore_new_subscription: cfg.ignore_new_subscription,
            subscribe_at_qos_0: cfg.subscribe_at_qos_0,
            peer: PeerInfo {
                mtp: MTP,
                address: cfg.broker.clone(),
                endpoint_id: None,
                // With MQTT the TLS peer is the broker, not the Agent: its
                // certificate says who the broker is, so R-SEC.10a (from_id
                // must match the certificate) does not apply to the Agent's
                // Records; see `certificate_names_the_peer`.
                certificate_endpoint_id: relay
                    .as_ref()
                    .and_then(TlsRelay::broker_certificate_endpoint_id),
                channel: None,
            },
            link,
            _relay: relay,
        })
    }
}

#[async_trait]
impl MtpConnector for MqttEndpoint {
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        if let Some(conn) = self.ready.take() {
            return Ok(Box::new(conn));
        }
        Ok(Box::new(self.open_session().await?))
    }

    fn configure(&mut self, model: &dyn ModelView) {
        if !self.config.follow_model {
            return;
        }
        self.config.model_client_id = model.param(&format!("{MODEL_CLIENT}ClientID"));
        self.config.model_request_response_info_off = model
            .param(&format!("{MODEL_CLIENT}RequestResponseInfo"))
            .is_some_and(|v| matches!(v.trim(), "false" | "0"));
        self.config.model_subscriptions = subscription_rows(
            &model.rows(MODEL_SUBSCRIPTIONS),
            self.config.subscribe_at_qos_0,
        );
        let keep_alive = model
            .param(&format!("{MODEL_CLIENT}KeepAliveTime"))
            .and_then(|k| k.trim().parse::<u64>().ok());
        if let Some(k) = keep_alive.filter(|_| !self.config.ignore_keep_alive_time) {
            // rumqttc refuses Keep Alives under 5 s (and 0, "no keep
            // alive"): the nearest it can send.
            self.config.keep_alive = Duration::from_secs(k.max(MIN_KEEP_ALIVE_S));
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} client '{}' at {}{} subscribed to {}",
            self.config.version.label(),
            self.config.client_id(),
            self.config.broker,
            if self.config.tls.is_some() {
                " over TLS"
            } else {
                ""
            },
            self.config.own_topic
        )
    }
}

/// Subscription topics for a session, given what CONNACK said.
fn topics_to_subscribe(cfg: &MqttConfig, response_information: Option<&str>) -> Vec<String> {
    binding::subscriptions(cfg.version, &cfg.own_topic, response_information)
}

/// Socket options: Nagle off, since a Record exchange is a chain of small
/// packets (PUBLISH, PUBACK, answer) and delayed ACKs would add ~40 ms each.
fn network_options() -> rumqttc::NetworkOptions {
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    net
}

fn connect_failed(cfg: &MqttConfig, reason: impl std::fmt::Display) -> MtpError {
    MtpError::Connect {
        address: cfg.broker.clone(),
        reason: reason.to_string(),
    }
}

fn handshake_failed(reason: impl Into<String>) -> MtpError {
    MtpError::Handshake {
        mtp: MTP,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(enable: &str, topic: &str, qos: &str) -> ModelRow {
        [("Enable", enable), ("Topic", topic), ("QoS", qos)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn enabled_rows_with_a_topic_are_subscribed_at_their_qos() {
        let rows = [
            row("true", "usp/a", "1"),
            row("false", "usp/off", "1"),
            row("true", "", "0"),
            row("1", "usp/b", "0"),
            row("true", "usp/c", "x"),
        ];
        assert_eq!(
            subscription_rows(&rows, false),
            vec![
                ("usp/a".to_string(), 1),
                ("usp/b".to_string(), 0),
                ("usp/c".to_string(), 0),
            ]
        );
        // The `mqtt-wrong-qos` fault: everything at QoS 0.
        assert!(subscription_rows(&rows, true).iter().all(|(_, q)| *q == 0));
    }
}
