//! The tokio driver of the CoAP MTP: one UDP socket per endpoint, a task
//! that reads it (answers requests through the sans-I/O `Inbox`, routes
//! ACKs and separate responses to the waiting sender), and Confirmable
//! sending with retransmission (RFC 7252 §4.2) and Block1 (RFC 7959).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use coap_lite::{MessageClass, MessageType, Packet, ResponseType};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::blockwise::Outgoing;
use super::control::{Exchanger, Kind};
use super::inbox::{Delivery, Inbox};
use super::message::{self, split_path, szx_for, CoapUri, Post, CONTENT_FORMAT_OCTET_STREAM};
use super::{CoapConfig, MTP};
use crate::mtp::{BadRecordAnswer, Inbound, MtpConnection, MtpConnector, MtpError, PeerInfo};
use crate::trace::Way;
use crate::usp::proto::record::Record;

/// How long a sender waits for a separate response after an empty ACK
/// (RFC 7252 §5.2.2), in multiples of the ACK timeout.
const SEPARATE_RESPONSE_FACTOR: u32 = 16;

/// Counters a test can read to see what went over the wire.
#[derive(Debug, Default)]
pub struct CoapStats {
    /// POSTs sent carrying a Block1 option.
    pub blocks_sent: AtomicU64,
    /// Requests received carrying a Block1 option.
    pub blocks_received: AtomicU64,
    /// Confirmable messages sent again after an ACK timeout.
    pub retransmissions: AtomicU64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum WaitKey {
    /// An ACK or RST matches the message id (RFC 7252 §4.4).
    Mid(SocketAddr, u16),
    /// A separate response matches the token (RFC 7252 §5.3.2).
    Token(SocketAddr, Vec<u8>),
}

struct Shared {
    socket: UdpSocket,
    own_uri: String,
    config: CoapConfig,
    szx: u8,
    waiters: Mutex<HashMap<WaitKey, mpsc::UnboundedSender<Packet>>>,
    next_mid: AtomicU16,
    stats: Arc<CoapStats>,
    problem: Mutex<Option<String>>,
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Shared {
    fn next_mid(&self) -> u16 {
        self.next_mid.fetch_add(1, Ordering::Relaxed)
    }

    fn note(&self, what: String) {
        if let Ok(mut p) = self.problem.lock() {
            *p = Some(what);
        }
    }

    /// Into the test controls' log, when this endpoint has them.
    fn log(&self, way: Way, kind: Kind, p: &Packet) {
        if let Some(c) = &self.config.control {
            c.log(way, kind, p);
        }
    }

    fn wake(&self, key: &WaitKey, packet: Packet) -> bool {
        let waiter = self.waiters.lock().ok().and_then(|w| w.get(key).cloned());
        waiter.is_some_and(|w| w.send(packet).is_ok())
    }

    async fn send_packet(&self, to: SocketAddr, p: &Packet) -> Result<(), MtpError> {
        let bytes = p
            .to_bytes_unlimited()
            .map_err(|e| MtpError::Io(format!("cannot encode a CoAP message: {e}")))?;
        self.socket
            .send_to(&bytes, to)
            .await
            .map(|_| ())
            .map_err(|e| MtpError::Io(format!("cannot send to {to}: {e}")))
    }

    /// Sends a Confirmable request and returns its response: piggy-backed
    /// in the ACK, or separate after an empty ACK. Retransmits with the
    /// RFC 7252 §4.2 back-off: a random first timeout in [ACK_TIMEOUT,
    /// 1.5 × ACK_TIMEOUT], doubled each time, at most MAX_RETRANSMIT times.
    async fn exchange(&self, to: SocketAddr, request: Packet) -> Result<Packet, MtpError> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let keys = [
            WaitKey::Mid(to, request.header.message_id),
            WaitKey::Token(to, request.get_token().to_vec()),
        ];
        let _registered = Registration::new(self, &keys, tx);
        let base = self.config.ack_timeout;
        let jitter = (random_u64() % 1000) as u32;
        let mut timeout = base + base / 2 * jitter / 1000;
        for attempt in 0..=self.config.max_retransmit {
            if attempt > 0 {
                self.stats.retransmissions.fetch_add(1, Ordering::Relaxed);
            }
            self.log(Way::ToAgent, Kind::Request, &request);
            self.send_packet(to, &request).await?;
            let deadline = tokio::time::Instant::now() + timeout;
            while let Ok(got) = tokio::time::timeout_at(deadline, rx.recv()).await {
                let Some(reply) = got else {
                    return Err(MtpError::Io("the CoAP endpoint stopped".into()));
                };
                match (reply.header.get_type(), reply.header.code) {
                    (MessageType::Reset, _) => {
                        return Err(MtpError::Io(format!(
                            "{to} answered the POST with a Reset (RFC 7252 §4.2)"
                        )))
                    }
                    (MessageType::Acknowledgement, MessageClass::Empty) => {
                        return self.separate_response(to, &mut rx).await;
                    }
                    (_, MessageClass::Response(_)) => return Ok(reply),
                    _ => {}
                }
            }
            timeout *= 2;
        }
        Err(MtpError::Io(format!(
            "no ACK from {to} after {} transmissions of a Confirmable POST (RFC 7252 §4.2)",
            self.config.max_retransmit + 1
        )))
    }

    async fn separate_response(
        &self,
        to: SocketAddr,
        rx: &mut mpsc::UnboundedReceiver<Packet>,
    ) -> Result<Packet, MtpError> {
        let wait = self.config.ack_timeout * SEPARATE_RESPONSE_FACTOR;
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(reply)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            if matches!(reply.header.code, MessageClass::Response(_)) {
                return Ok(reply);
            }
        }
        Err(MtpError::Io(format!(
            "{to} acknowledged the POST but sent no response within {} ms",
            wait.as_millis()
        )))
    }
}

#[async_trait]
impl Exchanger for Shared {
    async fn exchange(&self, to: SocketAddr, request: Packet) -> Result<Packet, MtpError> {
        Shared::exchange(self, to, request).await
    }

    fn next_mid(&self) -> u16 {
        Shared::next_mid(self)
    }

    fn own_uri(&self) -> String {
        self.own_uri.clone()
    }
}

/// Removes a sender's wait keys when its exchange ends, however it ends.
struct Registration<'a> {
    shared: &'a Shared,
    keys: Vec<WaitKey>,
}

impl<'a> Registration<'a> {
    fn new(shared: &'a Shared, keys: &[WaitKey], tx: mpsc::UnboundedSender<Packet>) -> Self {
        if let Ok(mut w) = shared.waiters.lock() {
            for k in keys {
                w.insert(k.clone(), tx.clone());
            }
        }
        Registration {
            shared,
            keys: keys.to_vec(),
        }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Ok(mut w) = self.shared.waiters.lock() {
            for k in &self.keys {
                w.remove(k);
            }
        }
    }
}

/// Reads the socket until the endpoint is dropped.
async fn receive_loop(shared: Arc<Shared>, tx: mpsc::UnboundedSender<Delivery>) {
    let mut inbox = Inbox::new(split_path(&shared.config.path), shared.config.max_body)
        .with_quirks(shared.config.quirks);
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = match shared.socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                shared.note(format!("UDP receive failed: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // RFC 7252 §4.2/§4.3: a message that cannot be parsed is ignored.
        let Ok(packet) = Packet::from_bytes(&buf[..n]) else {
            shared.note(format!("an unparsable datagram from {from}"));
            continue;
        };
        let mid = packet.header.message_id;
        match (packet.header.get_type(), packet.header.code) {
            (MessageType::Acknowledgement | MessageType::Reset, _) => {
                shared.log(Way::FromAgent, Kind::Answer, &packet);
                shared.wake(&WaitKey::Mid(from, mid), packet);
            }
            (_, MessageClass::Request(_)) => {
                // A case may have the harness leave it unanswered, as if
                // lost, to see the Agent send it again (TP-469 5.4).
                if let Some(c) = &shared.config.control {
                    if c.request_received(&packet) {
                        continue;
                    }
                }
                if message::block1(&packet).ok().flatten().is_some() {
                    shared.stats.blocks_received.fetch_add(1, Ordering::Relaxed);
                }
                let handled = inbox.handle(from, &packet, Instant::now(), shared.next_mid());
                if let Some(reply) = &handled.reply {
                    shared.log(Way::ToAgent, Kind::Answer, reply);
                    if let Err(e) = shared.send_packet(from, reply).await {
                        shared.note(e.to_string());
                    }
                }
                if let Some(p) = handled.problem {
                    shared.note(p);
                }
                if let Some(d) = handled.delivery {
                    if tx.send(d).is_err() {
                        return;
                    }
                }
            }
            (kind, MessageClass::Response(_)) => {
                // A separate response (RFC 7252 §5.2.2): acknowledge a
                // Confirmable one, then hand it to the sender waiting on it.
                shared.log(Way::FromAgent, Kind::Answer, &packet);
                if kind == MessageType::Confirmable {
                    let ack = message::empty(MessageType::Acknowledgement, mid);
                    let _ = shared.send_packet(from, &ack).await;
                }
                let key = WaitKey::Token(from, packet.get_token().to_vec());
                shared.wake(&key, packet);
            }
            (MessageType::Confirmable, MessageClass::Empty) => {
                // RFC 7252 §4.3: an empty Confirmable ("CoAP ping") gets a Reset.
                let _ = shared
                    .send_packet(from, &message::empty(MessageType::Reset, mid))
                    .await;
            }
            _ => {}
        }
    }
}

/// A CoAP endpoint: our resource on a bound UDP socket, and the peer's
/// resource URI (configured, or learnt from a `reply-to`).
pub struct CoapEndpoint {
    shared: Arc<Shared>,
    inbound: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>>,
    peer: Option<CoapUri>,
    task: JoinHandle<()>,
}

impl CoapEndpoint {
    pub async fn bind(config: CoapConfig) -> Result<Self, MtpError> {
        let bad = |reason: String| MtpError::Connect {
            address: config.listen.clone(),
            reason,
        };
        let szx = szx_for(config.block_size).ok_or_else(|| {
            bad(format!(
                "block size {} is not a power of two from 16 to 1024 (RFC 7959 §2.2)",
                config.block_size
            ))
        })?;
        let peer = match &config.peer {
            Some(p) => Some(CoapUri::parse(p).map_err(bad)?),
            None => None,
        };
        let socket = UdpSocket::bind(&config.listen)
            .await
            .map_err(|e| bad(format!("cannot bind UDP: {e}")))?;
        let local = socket
            .local_addr()
            .map_err(|e| bad(format!("no local address: {e}")))?;
        let own_uri = CoapUri {
            host: local.ip().to_string(),
            port: local.port(),
            path: split_path(&config.path),
        }
        .to_string();
        let shared = Arc::new(Shared {
            socket,
            own_uri,
            config,
            szx,
            waiters: Mutex::new(HashMap::new()),
            // RFC 7252 §4.4: message ids start at a random value.
            next_mid: AtomicU16::new(random_u64() as u16),
            stats: Arc::new(CoapStats::default()),
            problem: Mutex::new(None),
        });
        if let Some(c) = &shared.config.control {
            let exchanger: Arc<dyn Exchanger> = shared.clone();
            c.attach(Arc::downgrade(&exchanger));
            if let Some(p) = &peer {
                c.set_peer(p);
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(receive_loop(shared.clone(), tx));
        Ok(CoapEndpoint {
            shared,
            inbound: Arc::new(tokio::sync::Mutex::new(rx)),
            peer,
            task,
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.shared.socket.local_addr().ok()
    }

    /// Our resource, as sent in `reply-to`.
    pub fn uri(&self) -> &str {
        &self.shared.own_uri
    }

    /// Configures the peer's resource after binding (when each side needs
    /// the other's URI).
    pub fn set_peer(&mut self, uri: &str) -> Result<(), MtpError> {
        let peer = CoapUri::parse(uri).map_err(|reason| MtpError::Connect {
            address: uri.to_string(),
            reason,
        })?;
        if let Some(c) = &self.shared.config.control {
            c.set_peer(&peer);
        }
        self.peer = Some(peer);
        Ok(())
    }

    pub fn stats(&self) -> Arc<CoapStats> {
        self.shared.stats.clone()
    }

    fn connection(&self, peer: Option<CoapUri>, first: Option<Delivery>) -> CoapConnection {
        CoapConnection {
            shared: self.shared.clone(),
            inbound: self.inbound.clone(),
            configured: self.peer.is_some(),
            info: PeerInfo {
                mtp: MTP,
                address: peer.as_ref().map(ToString::to_string).unwrap_or_default(),
                endpoint_id: None,
                certificate_endpoint_id: None,
                channel: None,
            },
            peer,
            first,
            closed: false,
        }
    }
}

impl Drop for CoapEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[async_trait]
impl MtpConnector for CoapEndpoint {
    /// UDP has no connection: with a configured peer this returns at once;
    /// otherwise it waits for the first POST whose `reply-to` names the peer.
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        if let Some(peer) = self.peer.clone() {
            return Ok(Box::new(self.connection(Some(peer), None)));
        }
        let mut rx = self.inbound.lock().await;
        loop {
            let Some(d) = rx.recv().await else {
                return Err(MtpError::Io("the CoAP endpoint stopped".into()));
            };
            match d.reply_to.as_deref().map(CoapUri::parse) {
                Some(Ok(peer)) => {
                    drop(rx);
                    return Ok(Box::new(self.connection(Some(peer), Some(d))));
                }
                Some(Err(e)) => self.shared.note(format!("unusable reply-to: {e}")),
                None => {}
            }
        }
    }

    fn describe(&self) -> String {
        match &self.peer {
            Some(p) => format!("CoAP endpoint {} posting to {p}", self.shared.own_uri),
            None => format!("CoAP endpoint {}", self.shared.own_uri),
        }
    }

    fn last_problem(&self) -> Option<String> {
        self.shared.problem.lock().ok().and_then(|p| p.clone())
    }
}

/// The exchange with one peer resource over the endpoint's socket.
pub struct CoapConnection {
    shared: Arc<Shared>,
    inbound: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Delivery>>>,
    /// A configured peer is kept; otherwise each `reply-to` updates it.
    configured: bool,
    peer: Option<CoapUri>,
    /// The POST that revealed the peer, not yet handed up.
    first: Option<Delivery>,
    info: PeerInfo,
    closed: bool,
}

impl CoapConnection {
    fn accept(&mut self, d: Delivery) -> Inbound {
        if !self.configured {
            if let Some(Ok(uri)) = d.reply_to.as_deref().map(CoapUri::parse) {
                if let Some(c) = &self.shared.config.control {
                    c.set_peer(&uri);
                }
                self.info.address = uri.to_string();
                self.peer = Some(uri);
            }
        }
        match d.rejected {
            Some(why) => Inbound::Unusable(format!(
                "a CoAP POST from {} answered 4.00 Bad Request: {why}",
                d.from
            )),
            None => Inbound::Record(d.body),
        }
    }

    fn closed_error() -> MtpError {
        MtpError::Closed {
            code: None,
            reason: "closed by this side".into(),
        }
    }
}

#[async_trait]
impl MtpConnection for CoapConnection {
    async fn send(&mut self, record: &[u8]) -> Result<(), MtpError> {
        if self.closed {
            return Err(Self::closed_error());
        }
        let Some(peer) = self.peer.clone() else {
            return Err(MtpError::Io(
                "no CoAP peer URI: none configured and no reply-to received yet".into(),
            ));
        };
        let to = tokio::net::lookup_host(peer.authority())
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| MtpError::Connect {
                address: peer.to_string(),
                reason: "the host does not resolve".into(),
            })?;
        let quirks = self.shared.config.quirks;
        let mut out = match quirks.no_block_wise {
            true => Outgoing::whole(record.to_vec()),
            false => Outgoing::new(record.to_vec(), self.shared.szx),
        };
        loop {
            let (block, chunk) = out.current();
            let size1 = block.filter(|b| b.num == 0).map(|_| out.total());
            let token = random_u64().to_be_bytes()[..4].to_vec();
            let post = Post {
                message_id: self.shared.next_mid(),
                token: &token,
                path: &peer.path,
                reply_to: &self.shared.own_uri,
                block1: block,
                size1,
                content_format: quirks.content_format.unwrap_or(CONTENT_FORMAT_OCTET_STREAM),
                payload: chunk,
            }
            .packet();
            if block.is_some() {
                self.shared
                    .stats
                    .blocks_sent
                    .fetch_add(1, Ordering::Relaxed);
            }
            let reply = self.shared.exchange(to, post).await?;
            let last = block.is_none_or(|b| !b.more);
            match reply.header.code {
                MessageClass::Response(ResponseType::Continue) if !last => {
                    let echoed = message::block1(&reply).ok().flatten();
                    out.advance(echoed).map_err(MtpError::Io)?;
                }
                MessageClass::Response(code) if !code.is_error() && last => return Ok(()),
                code => {
                    let diag = String::from_utf8_lossy(&reply.payload).into_owned();
                    return Err(MtpError::Io(format!(
                        "{peer} answered {code} to the POST{}{}",
                        if last { "" } else { " before its last block" },
                        if diag.is_empty() {
                            String::new()
                        } else {
                            format!(": {diag}")
                        }
                    )));
                }
            }
        }
    }

    /// Cancel-safe: a Record stays in the channel until taken.
    async fn recv(&mut self) -> Result<Inbound, MtpError> {
        if self.closed {
            return Err(Self::closed_error());
        }
        if let Some(d) = self.first.take() {
            return Ok(self.accept(d));
        }
        let got = self.inbound.lock().await.recv().await;
        match got {
            Some(d) => Ok(self.accept(d)),
            None => Err(MtpError::Io("the CoAP endpoint stopped".into())),
        }
    }

    /// CoAP has no connection to close; later calls report it closed.
    async fn close(&mut self, _code: Option<u16>, _reason: &str) {
        self.closed = true;
    }

    fn peer(&self) -> &PeerInfo {
        &self.info
    }

    /// The USP Record schema has no CoAP Connect Record: Connect Records
    /// came with USP 1.2, which deprecated CoAP, and none was defined for
    /// it. R-MTP.6 has nothing to send here.
    fn connect_record(&self, _agent_id: &str, _controller_id: &str) -> Option<Record> {
        None
    }

    fn bad_record_answer(&self) -> Option<BadRecordAnswer> {
        Some(BadRecordAnswer::Coap400)
    }
}
