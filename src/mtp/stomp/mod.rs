//! The STOMP 1.2 MTP (TR-369 STOMP binding): both the harness and the
//! reference Agent are clients of a broker. This module owns the session
//! rules (STOMP frame with `endpoint-id`, `subscribe-dest`, SUBSCRIBE with
//! `ack:auto`, SEND headers, replies to `reply-to-dest`); the framing lives
//! in the sans-I/O `frame` codec.

pub mod frame;
mod model;

pub use model::{model_connection, model_destination, model_heartbeat, MODEL_MTP};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::frame::{Decoder, Frame, FrameError, HEARTBEAT};
use super::tls::{describe_handshake_error, peer_endpoint_id, ClientTls};
use super::{Inbound, MtpConnection, MtpConnector, MtpError, PeerInfo};
use crate::usp::proto::record::Record;
use crate::usp::record;

/// The media type of a USP Record in a STOMP frame (R-STOMP.20).
pub const CONTENT_TYPE: &str = "application/vnd.bbf.usp.msg";
const MTP: &str = "STOMP";
const SUBSCRIPTION_ID: &str = "0";
const SUBSCRIBE_RECEIPT: &str = "usp-subscribed";
/// A broker that neither accepts nor refuses (a filtered port, a peer that
/// is no STOMP broker) must not stall a run: TCP, TLS and the STOMP
/// handshake up to the SUBSCRIBE receipt each get this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP or TLS over TCP: the session code does not care which.
trait BrokerStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> BrokerStream for T {}
type Stream = Box<dyn BrokerStream>;

/// How to reach the broker and which destinations to use.
#[derive(Debug, Clone)]
pub struct StompConfig {
    /// `host:port` of the broker.
    pub broker: String,
    /// The `host` header (R-STOMP.5); RabbitMQ reads it as the virtual host.
    pub virtual_host: String,
    /// `login`/`passcode` (R-STOMP.3); omitted when absent.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Our Endpoint ID, sent as the `endpoint-id` header (R-STOMP.4).
    pub own_endpoint_id: String,
    /// Where we subscribe unless the broker assigns `subscribe-dest` (R-STOMP.15).
    pub own_destination: Option<String>,
    /// Where the peer listens, when configured; otherwise learnt from the
    /// `reply-to-dest` of its messages (R-STOMP.23).
    pub peer_destination: Option<String>,
    /// Heart-beats we offer, `(outgoing ms, incoming ms)` (R-STOMP.8..10);
    /// `None` leaves the header out.
    pub heartbeat: Option<(u64, u64)>,
    /// STOMP over TLS (R-STOMP.36: TLS 1.2 or later, which is all rustls
    /// speaks); the broker's certificate is verified against its roots.
    pub tls: Option<ClientTls>,
    /// Misbehaviour for the `ignores-subscribe-dest` fault: subscribe to
    /// `own_destination` even when CONNECTED names a `subscribe-dest`.
    pub ignore_subscribe_dest: bool,
    /// Misbehaviour for the `wrong-heart-beat-header` fault: offer the
    /// heart-beats in a header named `heartbeat`, which no broker reads.
    pub misspell_heart_beat: bool,
    /// The reference Agent's client: before each connection (and while one
    /// is live) read the destination and heart-beats from the Agent's data
    /// model (`MtpConnector::configure`; `model.rs`).
    pub follow_model: bool,
    /// What of the model the reference Agent's faults make it ignore.
    pub model_faults: ModelFaults,
}

/// How the reference Agent's STOMP client misreads its model (its faults);
/// the default misreads nothing.
#[derive(Debug, Clone, Default)]
pub struct ModelFaults {
    /// `stomp-ignores-model-destination`: keep the destination it started
    /// with whatever `LocalAgent.MTP.{i}.STOMP.Destination` says.
    pub ignore_destination: bool,
    /// `stomp-wrong-heart-beat`: keep the heart-beats it started with
    /// whatever `OutgoingHeartbeat` / `IncomingHeartbeat` say.
    pub ignore_heart_beat: bool,
    /// `stomp-no-disconnect-without-destination`: with no destination at
    /// all, stay connected without a subscription (breaks R-STOMP.16).
    pub stay_without_destination: bool,
    /// `stomp-no-unsubscribe-on-destination-change`: subscribe to a new
    /// destination without unsubscribing the old one (breaks R-STOMP.29).
    pub no_unsubscribe: bool,
    /// `stomp-subscribes-before-unsubscribe`: SUBSCRIBE the new destination
    /// first, UNSUBSCRIBE the old one after (TP-469 6.10 asks the reverse).
    pub subscribe_first: bool,
}

impl StompConfig {
    /// A guest login on virtual host `/`, RabbitMQ's loopback default.
    pub fn new(broker: &str, own_endpoint_id: &str) -> Self {
        StompConfig {
            broker: broker.to_string(),
            virtual_host: "/".into(),
            username: Some("guest".into()),
            password: Some("guest".into()),
            own_endpoint_id: own_endpoint_id.to_string(),
            own_destination: None,
            peer_destination: None,
            heartbeat: None,
            tls: None,
            ignore_subscribe_dest: false,
            misspell_heart_beat: false,
            follow_model: false,
            model_faults: ModelFaults::default(),
        }
    }
}

/// How SEND frames break the binding, for the reference Agent's faults;
/// the default breaks nothing.
#[derive(Debug, Clone, Default)]
pub struct SendFaults {
    /// `no-reply-to-dest`: leave out `reply-to-dest` (breaking R-STOMP.21).
    pub omit_reply_to_dest: bool,
    /// `wrong-content-type`: this `content-type` instead of the USP one
    /// (breaking R-STOMP.20).
    pub content_type: Option<String>,
}

/// A client endpoint of the broker: every `establish` opens a new STOMP
/// session and subscribes.
pub struct StompClient {
    config: StompConfig,
    last_problem: Option<String>,
    /// A session opened ahead of time (see `connect_early`).
    ready: Option<StompConnection>,
    send_faults: SendFaults,
    /// The destination the model names now, for live connections to
    /// re-subscribe when it changes (R-STOMP.29).
    destination: watch::Sender<Option<String>>,
}

impl StompClient {
    pub fn new(config: StompConfig) -> Self {
        StompClient {
            config: config.clone(),
            last_problem: None,
            ready: None,
            send_faults: SendFaults::default(),
            destination: watch::Sender::new(config.own_destination.clone()),
        }
    }

    /// Connects and subscribes now: a broker that is down or refuses us is
    /// then a setup error before any case runs, and the subscription is in
    /// place when the Agent sends its STOMPConnectRecord (R-MTP.6).
    pub async fn connect_early(&mut self) -> Result<(), MtpError> {
        self.ready = Some(self.connect().await?);
        Ok(())
    }

    /// Makes every connection's SEND frames misbehave (reference Agent faults).
    pub fn with_send_faults(mut self, faults: SendFaults) -> Self {
        self.send_faults = faults;
        self
    }

    pub async fn connect(&self) -> Result<StompConnection, MtpError> {
        let c = &self.config;
        let (stream, address) = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.open_stream())
            .await
            .map_err(|_| MtpError::Connect {
                address: c.broker.clone(),
                reason: format!(
                    "no TCP/TLS connection within {} ms",
                    HANDSHAKE_TIMEOUT.as_millis()
                ),
            })??;
        let (reader, writer) = tokio::io::split(stream);
        let mut conn = StompConnection {
            reader,
            writer: Arc::new(Mutex::new(writer)),
            decoder: Decoder::default(),
            own_destination: String::new(),
            peer_destination: c.peer_destination.clone(),
            peer: PeerInfo {
                mtp: MTP,
                address,
                endpoint_id: None,
                // The broker's certificate names the broker, not the Agent:
                // R-SEC.10a compares from_id with the *peer endpoint's*
                // certificate, so it stays out of this field.
                certificate_endpoint_id: None,
                channel: None,
            },
            incoming_heartbeat: None,
            heartbeat_task: None,
            send_faults: self.send_faults.clone(),
            assigned: false,
            destination: self.destination.subscribe(),
            no_unsubscribe: c.model_faults.no_unsubscribe,
            subscribe_first: c.model_faults.subscribe_first,
        };
        conn.destination.mark_unchanged();
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.stomp_handshake(c)).await {
            Ok(Ok(())) => Ok(conn),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(handshake(format!(
                "the broker {} did not complete CONNECTED and the SUBSCRIBE receipt within {} ms",
                c.broker,
                HANDSHAKE_TIMEOUT.as_millis()
            ))),
        }
    }

    /// TCP to the broker, wrapped in TLS when configured. Returns the
    /// stream and how the peer is described (with the broker's certificate
    /// over TLS).
    async fn open_stream(&self) -> Result<(Stream, String), MtpError> {
        let c = &self.config;
        let connect_error = |reason: String| MtpError::Connect {
            address: c.broker.clone(),
            reason,
        };
        let tcp = TcpStream::connect(&c.broker)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &c.tls else {
            return Ok((Box::new(tcp), c.broker.clone()));
        };
        let host = broker_host(&c.broker);
        let name = rustls_pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| connect_error(format!("'{host}' is no TLS server name: {e}")))?;
        let stream = tls
            .connector()
            .connect(name, tcp)
            .await
            .map_err(|e| connect_error(describe_handshake_error(&e)))?;
        let (_, session) = stream.get_ref();
        let version = session
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "TLS".into());
        let broker_id = peer_endpoint_id(session.peer_certificates())
            .map(|eid| format!(", certificate naming {eid}"))
            .unwrap_or_default();
        let verified = if tls.is_insecure() {
            "NOT verified (insecure)"
        } else {
            "verified"
        };
        let address = format!(
            "{} over {version} (broker certificate {verified}{broker_id})",
            c.broker
        );
        Ok((Box::new(stream), address))
    }
}

/// The host part of `host:port` (`[v6]:port` too), for the TLS server name.
fn broker_host(broker: &str) -> &str {
    let host = broker.rsplit_once(':').map_or(broker, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

impl StompConnection {
    /// R-STOMP.2..17: STOMP frame, CONNECTED, destination choice, SUBSCRIBE.
    async fn stomp_handshake(&mut self, c: &StompConfig) -> Result<(), MtpError> {
        let conn = self;
        // R-STOMP.2: the STOMP command, not CONNECT, so that the header
        // values are escaped (the `:` of the Endpoint ID becomes `\c`, R-STOMP.4).
        let mut hello = Frame::new("STOMP")
            .header("accept-version", "1.2")
            .header("host", &c.virtual_host);
        if let Some((cx, cy)) = c.heartbeat {
            let name = match c.misspell_heart_beat {
                true => "heartbeat",
                false => "heart-beat",
            };
            hello = hello.header(name, &format!("{cx},{cy}"));
        }
        hello = hello.header("endpoint-id", &c.own_endpoint_id);
        if let Some(login) = &c.username {
            hello = hello.header("login", login);
        }
        if let Some(passcode) = &c.password {
            hello = hello.header("passcode", passcode);
        }
        conn.write(&hello.encode()).await?;
        let connected = conn.next_control_frame().await?;
        if connected.command != "CONNECTED" {
            return Err(handshake(format!(
                "the broker answered the STOMP frame with {}",
                connected.command
            )));
        }
        if connected.get("version") != Some("1.2") {
            return Err(handshake(format!(
                "the broker speaks STOMP {:?}, not 1.2",
                connected.get("version").unwrap_or("1.0")
            )));
        }
        // R-STOMP.6/14: a destination assigned by the broker wins; else our
        // configured one (R-STOMP.15); with neither we cannot be reached (R-STOMP.16).
        let assigned = connected
            .get("subscribe-dest")
            .filter(|_| !c.ignore_subscribe_dest);
        let destination = match (assigned, &c.own_destination) {
            (Some(d), _) if !d.is_empty() => {
                conn.assigned = true;
                d.to_string()
            }
            (_, Some(d)) => d.clone(),
            _ if c.model_faults.stay_without_destination => {
                // The fault: connected, subscribed to nothing, unreachable.
                conn.start_heartbeats(c.heartbeat, connected.get("heart-beat"));
                return Ok(());
            }
            _ => {
                // R-STOMP.16: DISCONNECT (nothing to unsubscribe) and retry.
                let _ = conn.write(&Frame::new("DISCONNECT").encode()).await;
                let _ = conn.writer.lock().await.shutdown().await;
                return Err(handshake(
                    "the broker assigned no subscribe-dest and no own destination is configured: DISCONNECT sent (R-STOMP.16)".into(),
                ));
            }
        };
        // R-STOMP.17: ack:auto. The receipt tells us the subscription is
        // live before anyone is told where to reach us.
        let subscribe = Frame::new("SUBSCRIBE")
            .header("id", SUBSCRIPTION_ID)
            .header("destination", &destination)
            .header("ack", "auto")
            .header("receipt", SUBSCRIBE_RECEIPT);
        conn.write(&subscribe.encode()).await?;
        let receipt = conn.next_control_frame().await?;
        if receipt.command != "RECEIPT" || receipt.get("receipt-id") != Some(SUBSCRIBE_RECEIPT) {
            return Err(handshake(format!(
                "SUBSCRIBE to {destination} was answered with {} instead of its RECEIPT",
                receipt.command
            )));
        }
        conn.own_destination = destination;
        conn.start_heartbeats(c.heartbeat, connected.get("heart-beat"));
        Ok(())
    }
}

fn handshake(reason: String) -> MtpError {
    MtpError::Handshake { mtp: MTP, reason }
}

#[async_trait]
impl MtpConnector for StompClient {
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        if let Some(conn) = self.ready.take() {
            return Ok(Box::new(conn));
        }
        match self.connect().await {
            Ok(c) => Ok(Box::new(c)),
            Err(e) => {
                self.last_problem = Some(e.to_string());
                Err(e)
            }
        }
    }

    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "STOMP{} client of broker {} (own destination {}, peer destination {})",
            match &c.tls {
                Some(t) if t.is_insecure() => " over TLS (certificate NOT verified)",
                Some(_) => " over TLS",
                None => "",
            },
            c.broker,
            c.own_destination.as_deref().unwrap_or("from the broker"),
            c.peer_destination
                .as_deref()
                .unwrap_or("learnt from reply-to-dest")
        )
    }

    fn last_problem(&self) -> Option<String> {
        self.last_problem.clone()
    }

    /// The reference Agent's client (`follow_model`): its destination and
    /// heart-beats from the model; a live connection re-subscribes when the
    /// destination changes (R-STOMP.29).
    fn configure(&mut self, model: &dyn super::ModelView) {
        if !self.config.follow_model {
            return;
        }
        let param = |path: &str| model.param(path);
        let param: &dyn Fn(&str) -> Option<String> = &param;
        let faults = &self.config.model_faults;
        if !faults.ignore_destination {
            let d = model_destination(param);
            self.config.own_destination = d.clone();
            self.destination.send_if_modified(|now| {
                let changed = *now != d;
                *now = d;
                changed
            });
        }
        if !faults.ignore_heart_beat {
            self.config.heartbeat = model_heartbeat(param);
        }
    }
}

/// `(sx, sy)` from a `heart-beat` header value such as `10000,0`.
fn parse_heartbeat(value: &str) -> Option<(u64, u64)> {
    let (a, b) = value.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The negotiated intervals (STOMP 1.2 "Heart-beating"): we send every
/// max(cx, sy) when both are non-zero, and expect the broker every max(cy, sx).
pub fn negotiate_heartbeat(ours: (u64, u64), broker: (u64, u64)) -> (Option<u64>, Option<u64>) {
    let (cx, cy) = ours;
    let (sx, sy) = broker;
    let send = (cx != 0 && sy != 0).then(|| cx.max(sy));
    let expect = (cy != 0 && sx != 0).then(|| cy.max(sx));
    (send, expect)
}

/// One STOMP session with the broker, subscribed to our own destination.
pub struct StompConnection {
    reader: ReadHalf<Stream>,
    /// Shared with the heart-beat task, so a heart-beat never splits a frame.
    writer: Arc<Mutex<WriteHalf<Stream>>>,
    decoder: Decoder,
    own_destination: String,
    peer_destination: Option<String>,
    peer: PeerInfo,
    /// How long the broker may stay silent (twice the negotiated interval).
    incoming_heartbeat: Option<Duration>,
    heartbeat_task: Option<JoinHandle<()>>,
    send_faults: SendFaults,
    /// The broker assigned `own_destination` (`subscribe-dest`): a change
    /// of the configured one does not move the subscription.
    assigned: bool,
    /// The configured destination as the model names it now.
    destination: watch::Receiver<Option<String>>,
    /// The `stomp-no-unsubscribe-on-destination-change` fault.
    no_unsubscribe: bool,
    /// The `stomp-subscribes-before-unsubscribe` fault.
    subscribe_first: bool,
}

impl StompConnection {
    /// R-STOMP.29: the configured destination changed while connected:
    /// UNSUBSCRIBE the old one, SUBSCRIBE the new one; what the Agent sends
    /// from now on names the new one as reply-to-dest. Written by a task of
    /// its own, so a cancelled `recv` never leaves half a frame behind.
    fn follow_destination(&mut self) {
        let wanted = self.destination.borrow_and_update().clone();
        let Some(new) = wanted.filter(|d| !self.assigned && *d != self.own_destination) else {
            return;
        };
        let unsubscribe = (!self.no_unsubscribe).then(|| {
            Frame::new("UNSUBSCRIBE")
                .header("id", SUBSCRIPTION_ID)
                .encode()
        });
        // While the old subscription lives, the new one needs an id of its own.
        let id = match self.no_unsubscribe || self.subscribe_first {
            true => "1",
            false => SUBSCRIPTION_ID,
        };
        let subscribe = Frame::new("SUBSCRIBE")
            .header("id", id)
            .header("destination", &new)
            .header("ack", "auto")
            .encode();
        let in_order = match self.subscribe_first {
            true => [Some(subscribe), unsubscribe],
            false => [unsubscribe, Some(subscribe)],
        };
        let frames: Vec<u8> = in_order.into_iter().flatten().flatten().collect();
        self.own_destination = new;
        let writer = Arc::clone(&self.writer);
        tokio::spawn(async move {
            let mut w = writer.lock().await;
            let _ = w.write_all(&frames).await;
            let _ = w.flush().await;
        });
    }

    /// The destination we subscribed to (announced in the STOMPConnectRecord).
    pub fn own_destination(&self) -> &str {
        &self.own_destination
    }

    /// Where our Records go: configured, or the last `reply-to-dest` seen.
    pub fn peer_destination(&self) -> Option<&str> {
        self.peer_destination.as_deref()
    }

    async fn write(&self, bytes: &[u8]) -> Result<(), MtpError> {
        let mut w = self.writer.lock().await;
        w.write_all(bytes).await.map_err(|e| io_error(&e))?;
        w.flush().await.map_err(|e| io_error(&e))
    }

    fn start_heartbeats(&mut self, ours: Option<(u64, u64)>, broker: Option<&str>) {
        let (Some(ours), Some(broker)) = (ours, broker.and_then(parse_heartbeat)) else {
            return;
        };
        let (send, expect) = negotiate_heartbeat(ours, broker);
        // R-STOMP.11: honour what the broker negotiated. Twice the interval
        // of grace for incoming ones, as network delays are expected.
        self.incoming_heartbeat = expect.map(|ms| Duration::from_millis(ms * 2));
        if let Some(ms) = send {
            let writer = Arc::clone(&self.writer);
            self.heartbeat_task = Some(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(ms));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let mut w = writer.lock().await;
                    // Flushed, as TLS buffers what it is given.
                    if w.write_all(HEARTBEAT).await.is_err() || w.flush().await.is_err() {
                        return;
                    }
                }
            }));
        }
    }

    /// Reads until one whole frame is decoded. Cancel-safe: bytes are
    /// moved into the decoder as soon as a read completes.
    async fn next_frame(&mut self) -> Result<Frame, MtpError> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(frame_error)? {
                return Ok(frame);
            }
            let mut chunk = [0u8; 16 * 1024];
            let read = self.reader.read(&mut chunk);
            let n = match self.incoming_heartbeat {
                Some(grace) => tokio::time::timeout_at(Instant::now() + grace, read)
                    .await
                    .map_err(|_| MtpError::Closed {
                        code: None,
                        reason: format!(
                            "the broker sent nothing within {} ms, twice the negotiated heart-beat",
                            grace.as_millis()
                        ),
                    })?,
                None => read.await,
            }
            .map_err(|e| MtpError::Closed {
                code: None,
                reason: format!("lost the connection to the STOMP broker: {e}"),
            })?;
            if n == 0 {
                return Err(MtpError::Closed {
                    code: None,
                    reason: "lost the connection to the STOMP broker: it closed the connection"
                        .into(),
                });
            }
            self.decoder.push(&chunk[..n]);
        }
    }

    /// The next frame during the handshake; an ERROR frame becomes the error.
    async fn next_control_frame(&mut self) -> Result<Frame, MtpError> {
        let frame = self.next_frame().await?;
        if frame.command == "ERROR" {
            return Err(handshake(describe_error(&frame)));
        }
        Ok(frame)
    }
}

/// A write that failed: the broker's socket is gone (or going).
fn io_error(e: &std::io::Error) -> MtpError {
    MtpError::Io(format!("lost the connection to the STOMP broker: {e}"))
}

fn frame_error(e: FrameError) -> MtpError {
    MtpError::Io(format!("undecodable STOMP data from the broker: {e}"))
}

/// `message` header and body text of an ERROR frame, for a readable error.
fn describe_error(frame: &Frame) -> String {
    let body = String::from_utf8_lossy(&frame.body);
    let body = body.trim();
    match (frame.get("message"), body.is_empty()) {
        (Some(m), true) => format!("STOMP ERROR from the broker: {m}"),
        (Some(m), false) => format!("STOMP ERROR from the broker: {m} ({body})"),
        (None, _) => format!("STOMP ERROR from the broker: {body}"),
    }
}

/// The `reply-to-dest` of a MESSAGE that may carry a USP Record, or why it
/// must be set aside: a Record travels as the USP media type (R-STOMP.20)
/// and names where to answer (R-STOMP.21), without which it cannot be
/// answered (R-STOMP.23).
fn usable_message(frame: &Frame) -> Result<&str, String> {
    let from = frame.get("destination").unwrap_or("?");
    if !is_usp_content_type(frame.get("content-type")) {
        return Err(format!(
            "a STOMP MESSAGE on {from} with content-type {:?} (R-STOMP.20: a Record travels as {CONTENT_TYPE})",
            frame.get("content-type").unwrap_or("(none)")
        ));
    }
    frame
        .get("reply-to-dest")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            format!(
                "a STOMP MESSAGE on {from} without a reply-to-dest header (R-STOMP.21: every USP SEND names where to answer; without it the Record cannot be answered, R-STOMP.23)"
            )
        })
}

/// Whether a `content-type` names the USP media type (parameters allowed).
fn is_usp_content_type(value: Option<&str>) -> bool {
    value
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

#[async_trait]
impl MtpConnection for StompConnection {
    async fn send(&mut self, record: &[u8]) -> Result<(), MtpError> {
        let Some(to) = self.peer_destination.clone() else {
            return Err(MtpError::Io(
                "no STOMP destination is known for the peer: configure it, or wait for a MESSAGE with reply-to-dest (R-STOMP.23)".into(),
            ));
        };
        // R-STOMP.18..22: destination, USP content-type, our own destination
        // for replies, and content-length because a Record holds NUL octets.
        // The send faults (reference Agent only) break R-STOMP.20/21.
        let content_type = self
            .send_faults
            .content_type
            .as_deref()
            .unwrap_or(CONTENT_TYPE);
        let mut frame = Frame::new("SEND")
            .header("destination", &to)
            .header("content-type", content_type);
        if !self.send_faults.omit_reply_to_dest {
            frame = frame.header("reply-to-dest", &self.own_destination);
        }
        let frame = frame.body_with_length(record);
        self.write(&frame.encode()).await
    }

    async fn recv(&mut self) -> Result<Inbound, MtpError> {
        loop {
            // Both cancel-safe: a frame half read stays in the decoder.
            let mut destination = self.destination.clone();
            let frame = tokio::select! {
                frame = self.next_frame() => frame?,
                Ok(()) = destination.changed() => {
                    self.follow_destination();
                    continue;
                }
            };
            match frame.command.as_str() {
                "MESSAGE" => {
                    // R-STOMP.23: answers go where the sender said.
                    match usable_message(&frame) {
                        Ok(reply) => self.peer_destination = Some(reply.to_string()),
                        Err(why) => return Ok(Inbound::Unusable(why)),
                    }
                    return Ok(Inbound::Record(frame.body));
                }
                "ERROR" => {
                    // The broker closes the connection after an ERROR (R-STOMP.25).
                    return Err(MtpError::Closed {
                        code: None,
                        reason: describe_error(&frame),
                    });
                }
                // RECEIPTs and anything else carry no Record.
                _ => continue,
            }
        }
    }

    async fn close(&mut self, _code: Option<u16>, _reason: &str) {
        if let Some(task) = self.heartbeat_task.take() {
            task.abort();
        }
        // R-STOMP.26..28 allow UNSUBSCRIBE/DISCONNECT on shutdown; a failure
        // to say goodbye is not worth reporting.
        let bye = [
            Frame::new("UNSUBSCRIBE")
                .header("id", SUBSCRIPTION_ID)
                .encode(),
            Frame::new("DISCONNECT").encode(),
        ]
        .concat();
        let _ = self.write(&bye).await;
        let _ = self.writer.lock().await.shutdown().await;
    }

    fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    fn connect_record(&self, agent_id: &str, controller_id: &str) -> Option<Record> {
        Some(record::stomp_connect(
            agent_id,
            controller_id,
            &self.own_destination,
        ))
    }
}

impl Drop for StompConnection {
    fn drop(&mut self) {
        if let Some(task) = self.heartbeat_task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_negotiated_per_stomp_1_2() {
        assert_eq!(negotiate_heartbeat((0, 0), (10, 10)), (None, None));
        assert_eq!(
            negotiate_heartbeat((1000, 2000), (500, 3000)),
            (Some(3000), Some(2000))
        );
        assert_eq!(negotiate_heartbeat((1000, 0), (0, 0)), (None, None));
        assert_eq!(parse_heartbeat("10000, 0"), Some((10000, 0)));
        assert_eq!(parse_heartbeat("x,1"), None);
    }

    #[test]
    fn only_the_usp_media_type_is_accepted() {
        assert!(is_usp_content_type(Some(CONTENT_TYPE)));
        assert!(is_usp_content_type(Some(
            "application/vnd.bbf.usp.msg; charset=x"
        )));
        assert!(!is_usp_content_type(Some("text/plain")));
        assert!(!is_usp_content_type(None));
    }

    #[test]
    fn a_message_needs_the_usp_content_type_and_a_reply_to_dest() {
        let good = Frame::new("MESSAGE")
            .header("destination", "/queue/c")
            .header("content-type", CONTENT_TYPE)
            .header("reply-to-dest", "/queue/a");
        assert_eq!(usable_message(&good), Ok("/queue/a"));
        let no_reply = Frame::new("MESSAGE")
            .header("destination", "/queue/c")
            .header("content-type", CONTENT_TYPE);
        let err = usable_message(&no_reply).unwrap_err();
        assert!(
            err.contains("R-STOMP.21") && err.contains("reply-to-dest"),
            "{err}"
        );
        let empty_reply = no_reply.clone().header("reply-to-dest", "");
        assert!(usable_message(&empty_reply).is_err());
        let text = Frame::new("MESSAGE")
            .header("content-type", "text/plain")
            .header("reply-to-dest", "/queue/a");
        let err = usable_message(&text).unwrap_err();
        assert!(
            err.contains("R-STOMP.20") && err.contains("text/plain"),
            "{err}"
        );
    }

    #[test]
    fn error_frames_are_described() {
        let f = Frame::new("ERROR").header("message", "access refused");
        assert_eq!(
            describe_error(&f),
            "STOMP ERROR from the broker: access refused"
        );
    }
}
