//! Runs the reference Agent over a real MTP: the transport loop around the
//! sans-I/O `Agent`, for any `MtpConnector`. It sends the MTP's Connect
//! Record first (R-MTP.6), applies the transport-level faults, closes with
//! 1003 on frames it cannot use (R-WS.16; on UDS the close reason goes out
//! as an Error TLV instead; CoAP has already answered 4.00), ignores Records for other
//! endpoints (R-E2E.1) and, as the dialing side, reconnects after a drop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::faults::{Fault, FaultSet};
use super::Agent;
use crate::mtp::{Inbound, MtpConnection, MtpConnector};
use crate::usp::msg;
use crate::usp::record::{self, RecordError};

/// Bytes that are not a protobuf Record: field 1 claims a 127-byte string
/// that never comes.
const GARBAGE: &[u8] = b"\x0a\x7fnot a USP record";
/// Where the `wrong-to-id` fault sends its answers.
const SOMEBODY_ELSE: &str = "proto::somebody-else";
/// WebSocket close status for data that cannot be accepted (R-WS.16).
const CLOSE_UNSUPPORTED_DATA: u16 = 1003;

#[derive(Clone)]
pub struct AgentHost {
    agent: Arc<Mutex<Agent>>,
    endpoint_id: String,
    faults: FaultSet,
    log: bool,
}

impl AgentHost {
    pub fn new(agent: Agent, faults: FaultSet) -> Self {
        AgentHost {
            endpoint_id: agent.endpoint_id().to_string(),
            agent: Arc::new(Mutex::new(agent)),
            faults,
            log: false,
        }
    }

    /// The faults this Agent commits, so that whoever builds its transport
    /// can switch on the binding-level ones.
    pub fn faults(&self) -> &FaultSet {
        &self.faults
    }

    /// Print one line per connection event on stderr (standalone `plugfest agent`).
    pub fn with_log(mut self, log: bool) -> Self {
        self.log = log;
        self
    }

    fn say(&self, line: impl AsRef<str>) {
        if self.log {
            eprintln!("agent {}: {}", self.endpoint_id, line.as_ref());
        }
    }

    /// As the side that dials (a WebSocket client, a UDS client, a broker
    /// client): connect, serve, and reconnect after `retry` whenever the
    /// connection drops. Runs until the task is dropped.
    pub async fn run_dialer(
        self,
        mut connector: impl MtpConnector,
        controller_id: Option<String>,
        retry: Duration,
    ) {
        loop {
            match connector.establish().await {
                Ok(conn) => {
                    self.say(format!("connected: {}", connector.describe()));
                    let controller = controller_id
                        .clone()
                        .or_else(|| conn.peer().endpoint_id.clone());
                    self.serve(conn, controller).await;
                    self.say("connection ended");
                }
                Err(e) => self.say(format!("cannot connect: {e}")),
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// As the side that listens: serve every Controller that connects, each
    /// on its own task. Runs until the task is dropped.
    pub async fn run_listener(self, mut listener: impl MtpConnector) {
        loop {
            match listener.establish().await {
                Ok(conn) => {
                    self.say(format!("accepted {}", conn.peer().address));
                    let me = self.clone();
                    // The certificate's identity is authenticated (R-SEC.0a);
                    // the handshake's eid is only claimed.
                    let controller = conn
                        .peer()
                        .certificate_endpoint_id
                        .clone()
                        .or_else(|| conn.peer().endpoint_id.clone());
                    tokio::spawn(async move { me.serve(conn, controller).await });
                }
                Err(e) => {
                    self.say(format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Serves one connection until it ends. `controller_id` is the peer when
    /// known from the handshake; otherwise learnt from the first Record.
    async fn serve(&self, mut conn: Box<dyn MtpConnection>, mut controller_id: Option<String>) {
        let announce = !self.faults.contains(Fault::NoConnectRecord);
        if let Some(ctrl) = controller_id.as_ref().filter(|_| announce) {
            // An MTP without a Connect Record (CoAP) has nothing to send.
            if let Some(hello) = conn.connect_record(&self.endpoint_id, ctrl) {
                if conn.send(&record::encode(&hello)).await.is_err() {
                    return;
                }
            }
        }
        loop {
            let bytes = match conn.recv().await {
                Ok(Inbound::Record(b)) => b,
                Ok(Inbound::Unusable(what)) => {
                    self.say(format!("closing: received {what}"));
                    conn.close(Some(CLOSE_UNSUPPORTED_DATA), "binary USP Records only")
                        .await;
                    return;
                }
                Err(_) => return,
            };
            let rec = match record::decode(&bytes, Some(&self.endpoint_id)) {
                Ok(r) => r,
                // R-E2E.1: a Record for another endpoint is silently ignored.
                Err(RecordError::WrongToId { .. }) => continue,
                Err(e) => {
                    self.say(format!("closing: {e}"));
                    conn.close(Some(CLOSE_UNSUPPORTED_DATA), "undecodable USP Record")
                        .await;
                    return;
                }
            };
            // R-ARC.2: endpoints sharing our Endpoint ID are not talked to.
            if rec.from_id == self.endpoint_id {
                continue;
            }
            // R-SEC.10a: over TLS, a Record whose from_id is not the
            // Endpoint ID in the peer's certificate must not be processed.
            // Over a broker MTP the certificate is the broker's, not the
            // Controller's: R-SEC.10a does not apply to it.
            let cert_eid = conn
                .certificate_names_the_peer()
                .then_some(conn.peer().certificate_endpoint_id.as_ref())
                .flatten();
            if let Some(cert_eid) = cert_eid {
                if &rec.from_id != cert_eid {
                    self.say(format!(
                        "ignoring a Record from '{}': the certificate names '{cert_eid}' (R-SEC.10a)",
                        rec.from_id
                    ));
                    continue;
                }
            }
            let from = controller_id
                .get_or_insert_with(|| rec.from_id.clone())
                .clone();
            let Ok(request) = record::payload_msg(&rec) else {
                // R-MTP.5 allows silence when the Msg cannot be extracted.
                continue;
            };
            if self.faults.contains(Fault::DisconnectMidExchange)
                && msg::request_body(&request).is_some()
            {
                self.say("fault disconnect-mid-exchange: dropping the connection");
                conn.close(None, "").await;
                return;
            }
            let Some(answer) = self.agent.lock().await.handle(&from, &request) else {
                continue;
            };
            let to = if self.faults.contains(Fault::WrongToId) {
                SOMEBODY_ELSE
            } else {
                from.as_str()
            };
            let mut out = record::encode(&record::no_session(&self.endpoint_id, to, &answer));
            if self.faults.contains(Fault::MalformedProtobuf) {
                out = GARBAGE.to_vec();
            }
            if conn.send(&out).await.is_err() {
                return;
            }
            let notifications = self.agent.lock().await.take_notifications();
            for (controller, notify) in notifications {
                // Only this connection's Controller can be reached here.
                if controller != from {
                    continue;
                }
                let rec = record::no_session(&self.endpoint_id, &controller, &notify);
                if conn.send(&record::encode(&rec)).await.is_err() {
                    return;
                }
            }
        }
    }
}
