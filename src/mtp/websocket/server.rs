//! The WebSocket server role: the harness waiting for Agents (the usual
//! deployment), or the reference Agent waiting for a Controller.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{
    handshake::server::{ErrorResponse, Request, Response},
    http::{HeaderValue, StatusCode},
};

use crate::mtp::tls::channel::{opens_tls, peek_first_byte, ChannelSecurity, TlsSession};
use crate::mtp::tls::{describe_handshake_error, peer_endpoint_id, ServerTls};
use crate::mtp::{MtpConnection, MtpConnector, MtpError, PeerInfo};

use super::control::{HandshakeDecision, Way};
use super::*;

/// The server role: waits for a peer to connect (the usual deployment has
/// the Agent dial the Controller).
pub struct WsServer {
    listener: TcpListener,
    path: Option<String>,
    own_eid: String,
    /// Shared with an `AcceptingAhead` that runs this server in a task.
    last_rejection: Arc<Mutex<Option<String>>>,
    tls: Option<ServerTls>,
    text_frames: bool,
    /// Test controls (`ws_control` steps), if this run scripts the wire.
    control: Option<WsControl>,
}

impl WsServer {
    /// Binds `address`; with `path`, only that request path is accepted.
    pub async fn bind(
        address: &str,
        path: Option<String>,
        own_eid: &str,
    ) -> Result<Self, MtpError> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|e| MtpError::Connect {
                address: address.to_string(),
                reason: format!("cannot listen: {e}"),
            })?;
        Ok(WsServer {
            listener,
            path,
            own_eid: own_eid.to_string(),
            last_rejection: Arc::default(),
            tls: None,
            text_frames: false,
            control: None,
        })
    }

    /// Lets test cases steer handshakes and send control frames; every
    /// handshake and scripted frame is logged in `control`.
    pub fn with_control(mut self, control: WsControl) -> Self {
        self.control = Some(control);
        self
    }

    /// Connections send Records in text frames (the reference Agent's
    /// `text-frames` fault, breaking R-WS.14).
    pub fn with_text_frames(mut self, text_frames: bool) -> Self {
        self.text_frames = text_frames;
        self
    }

    /// Serves `wss://`: every accepted connection first completes TLS.
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Where refused attempts are remembered (shared with a task that
    /// accepts ahead).
    pub(super) fn rejections(&self) -> Arc<Mutex<Option<String>>> {
        self.last_rejection.clone()
    }

    pub fn local_addr(&self) -> String {
        self.listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// The bound port (what a DNS-SD SRV record advertises).
    pub fn local_port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Accepts connections until one completes TLS (when configured) and
    /// a valid USP handshake; rejected attempts are remembered for the report.
    async fn accept_one(&self) -> Result<Box<dyn MtpConnection>, MtpError> {
        loop {
            let (tcp, addr) = self.accept_tcp().await?;
            if let Ok(conn) = self.handshake(tcp, addr).await {
                return Ok(conn);
            }
        }
    }

    pub(super) async fn accept_tcp(
        &self,
    ) -> Result<(tokio::net::TcpStream, std::net::SocketAddr), MtpError> {
        let (tcp, addr) = self
            .listener
            .accept()
            .await
            .map_err(|e| MtpError::Io(e.to_string()))?;
        // One Record per frame, answered at once: Nagle only adds latency.
        let _ = tcp.set_nodelay(true);
        Ok((tcp, addr))
    }

    /// TLS when configured, then the USP opening handshake; a refusal is
    /// remembered (`last_problem`).
    pub(super) async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
        addr: std::net::SocketAddr,
    ) -> Result<Box<dyn MtpConnection>, ()> {
        let outcome = match &self.tls {
            None => self
                .upgrade(
                    tcp,
                    addr,
                    None,
                    ChannelSecurity::Plaintext { first_byte: None },
                )
                .await
                .map(|c| Box::new(c) as Box<dyn MtpConnection>),
            Some(tls) => self.accept_tls(tls.clone(), tcp, addr).await,
        };
        outcome.map_err(|why| *lock(&self.last_rejection) = Some(format!("{addr}: {why}")))
    }

    /// TLS, then the WebSocket handshake. A client whose first byte is no
    /// TLS ClientHello is served in plaintext and its connection says so
    /// (`PeerInfo::channel`): an Agent that ignores its TLS setting is
    /// reported by the check that asks for TLS (TP-469 4.1, 7.9), where a
    /// refusal would only show as an Agent that never connects.
    async fn accept_tls(
        &self,
        tls: ServerTls,
        tcp: tokio::net::TcpStream,
        addr: std::net::SocketAddr,
    ) -> Result<Box<dyn MtpConnection>, String> {
        let first = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, peek_first_byte(&tcp))
            .await
            .ok()
            .flatten();
        match first {
            None => Err("the client sent nothing (or closed) before a TLS handshake".into()),
            Some(b) if !opens_tls(b) => {
                let plain = ChannelSecurity::Plaintext {
                    first_byte: Some(b),
                };
                self.upgrade(tcp, addr, None, plain)
                    .await
                    .map(|c| Box::new(c) as Box<dyn MtpConnection>)
            }
            Some(_) => {
                let accepting = tls.acceptor().accept(tcp);
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accepting).await {
                    Ok(Ok(stream)) => {
                        let state = stream.get_ref().1;
                        let cert_eid = peer_endpoint_id(state.peer_certificates());
                        let channel = ChannelSecurity::Tls(TlsSession::of(state));
                        self.upgrade(stream, addr, cert_eid, channel)
                            .await
                            .map(|c| Box::new(c) as Box<dyn MtpConnection>)
                    }
                    Ok(Err(e)) => Err(describe_handshake_error(&e)),
                    Err(_) => Err(format!(
                        "TLS handshake not completed within {} s",
                        TLS_HANDSHAKE_TIMEOUT.as_secs()
                    )),
                }
            }
        }
    }

    /// The WebSocket opening handshake on an accepted stream (plain or TLS).
    async fn upgrade<S>(
        &self,
        stream: S,
        addr: std::net::SocketAddr,
        certificate_endpoint_id: Option<String>,
        channel: ChannelSecurity,
    ) -> Result<WsConnection<S>, String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let mut eid = None;
        let mut problem = None;
        let number = self.control.as_ref().map_or(0, WsControl::next_connection);
        let decision = self
            .control
            .as_ref()
            .map(WsControl::take_handshake_decision);
        let mut logged: Vec<(String, String)> = Vec::new();
        // The error type is tungstenite's HTTP response; its size is not ours to choose.
        #[allow(clippy::result_large_err)]
        let check = |req: &Request, resp: Response| {
            if decision.is_some() {
                logged = describe_request(req);
            }
            if let Some(HandshakeDecision::Refuse(code)) = decision {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let why = format!("handshake refused with HTTP {code} as the test case asked (ws_control reject_handshakes)");
                problem = Some(why.clone());
                return Err(reject(status, &why));
            }
            let outcome = check_request(req, resp, self.path.as_deref(), &self.own_eid);
            match outcome {
                Ok((mut resp, peer_eid)) => {
                    eid = peer_eid;
                    if let Some(HandshakeDecision::Accept {
                        omit_subprotocol,
                        omit_extension,
                    }) = decision
                    {
                        if omit_subprotocol {
                            resp.headers_mut().remove("Sec-WebSocket-Protocol");
                        }
                        if omit_extension {
                            resp.headers_mut().remove("Sec-WebSocket-Extensions");
                        }
                        logged.push((
                            "answered_subprotocol".into(),
                            header_or_none(&resp, "Sec-WebSocket-Protocol"),
                        ));
                        logged.push((
                            "answered_extensions".into(),
                            header_or_none(&resp, "Sec-WebSocket-Extensions"),
                        ));
                    }
                    Ok(resp)
                }
                Err((why, status)) => {
                    problem = Some(why.clone());
                    Err(reject(status, &why))
                }
            }
        };
        // Bounded: one client that connects and never finishes its
        // handshake must not hold up the Agents behind it.
        let handshake =
            tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(ws_config()));
        let outcome = match tokio::time::timeout(OPENING_HANDSHAKE_TIMEOUT, handshake).await {
            Ok(done) => done.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "no complete opening handshake within {} s",
                OPENING_HANDSHAKE_TIMEOUT.as_secs()
            )),
        };
        if let Some(control) = &self.control {
            let (kind, status) = match (&outcome, decision) {
                (Ok(_), _) => ("HANDSHAKE", "101".to_string()),
                (Err(_), Some(HandshakeDecision::Refuse(code))) => {
                    ("HANDSHAKE REFUSED", code.to_string())
                }
                (Err(_), _) => ("HANDSHAKE REFUSED", "not upgraded".to_string()),
            };
            let mut fields = vec![
                ("status".to_string(), status),
                ("channel".to_string(), channel.to_string()),
            ];
            fields.append(&mut logged);
            if let Some(p) = &problem {
                fields.push(("why".into(), p.clone()));
            }
            control.record(number, Way::FromAgent, kind, fields);
        }
        let stream = match outcome {
            Ok(stream) => stream,
            Err(e) => return Err(problem.unwrap_or_else(|| format!("handshake failed: {e}"))),
        };
        let mut conn = WsConnection {
            stream,
            peer: PeerInfo {
                mtp: MTP,
                address: addr.to_string(),
                endpoint_id: eid,
                certificate_endpoint_id,
                channel: Some(channel),
            },
            text_frames: self.text_frames,
            answer_close: true,
            control: None,
        };
        if let Some(control) = &self.control {
            conn = conn.with_control(control.clone(), number);
            if let Some(HandshakeDecision::Accept {
                omit_subprotocol: true,
                ..
            }) = decision
            {
                // R-WS.12: a client must not complete a session whose
                // answer lacks v1.usp. Watch what the Agent does with it;
                // the session is never handed to the test run.
                return Err(watch_unconfirmed_session(conn, control, number).await);
            }
        }
        Ok(conn)
    }
}

#[async_trait]
impl MtpConnector for WsServer {
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        self.accept_one().await
    }

    fn describe(&self) -> String {
        format!(
            "WebSocket server on {}://{}{}",
            if self.tls.is_some() { "wss" } else { "ws" },
            self.local_addr(),
            self.path.as_deref().unwrap_or("/")
        )
    }

    fn last_problem(&self) -> Option<String> {
        lock(&self.last_rejection).clone()
    }
}

/// A poisoned lock still holds the last refusal; it is only a report.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type Rejection = (String, StatusCode);

/// Validates an opening handshake against the USP binding and builds the
/// answer: the echoed subprotocol, and the legacy extension when offered.
fn check_request(
    req: &Request,
    mut resp: Response,
    path: Option<&str>,
    own_eid: &str,
) -> Result<(Response, Option<String>), Rejection> {
    if let Some(want) = path {
        if req.uri().path() != want {
            return Err((
                format!(
                    "request path '{}' is not the USP path '{want}'",
                    req.uri().path()
                ),
                StatusCode::NOT_FOUND,
            ));
        }
    }
    let offered: Vec<String> = req
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    if !offered.iter().any(|p| p == SUBPROTOCOL) {
        return Err((
            format!(
                "the client did not offer subprotocol {SUBPROTOCOL} (offered: {}); R-WS.12a requires refusing it",
                if offered.is_empty() { "none".into() } else { offered.join(", ") }
            ),
            StatusCode::BAD_REQUEST,
        ));
    }
    resp.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let legacy_eid = req
        .headers()
        .get_all("Sec-WebSocket-Extensions")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(extension_eid);
    if legacy_eid.is_some() {
        // R-WS.11a: answer the legacy extension with our own Endpoint ID.
        if let Ok(v) = HeaderValue::from_str(&format!("{EXTENSION}; eid=\"{own_eid}\"")) {
            resp.headers_mut().insert("Sec-WebSocket-Extensions", v);
        }
    }
    let query_eid = req.uri().query().and_then(query_eid);
    Ok((resp, query_eid.or(legacy_eid)))
}

fn reject(status: StatusCode, why: &str) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(why.to_string()));
    *resp.status_mut() = status;
    resp
}

/// How long the server watches a session it answered without `v1.usp`.
const UNCONFIRMED_WATCH: std::time::Duration = std::time::Duration::from_millis(1_500);

/// Reads a session answered without the subprotocol until the Agent drops
/// it or uses it, logs which, and says why it was not handed on.
async fn watch_unconfirmed_session<S>(
    mut conn: WsConnection<S>,
    control: &WsControl,
    number: u32,
) -> String
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let outcome = tokio::time::timeout(UNCONFIRMED_WATCH, conn.recv()).await;
    let (kind, what) = match outcome {
        Ok(Err(e)) => (
            "SESSION NOT COMPLETED",
            format!("the Agent ended the session: {e}"),
        ),
        Ok(Ok(Inbound::Record(bytes))) => (
            "SESSION USED WITHOUT SUBPROTOCOL",
            format!("the Agent sent a {}-byte Record on it", bytes.len()),
        ),
        Ok(Ok(Inbound::Unusable(what))) => (
            "SESSION USED WITHOUT SUBPROTOCOL",
            format!("the Agent sent {what}"),
        ),
        Err(_) => (
            "SESSION LEFT OPEN",
            format!(
                "the Agent neither used nor closed it within {} ms",
                UNCONFIRMED_WATCH.as_millis()
            ),
        ),
    };
    control.record(
        number,
        Way::FromAgent,
        kind,
        vec![("what".into(), what.clone())],
    );
    conn.close(Some(1002), "no v1.usp in this answer").await;
    format!("session answered without {SUBPROTOCOL} as the test case asked: {what}")
}

/// The request's handshake items worth logging.
fn describe_request(req: &Request) -> Vec<(String, String)> {
    let header = |name: &str| -> String {
        let values: Vec<&str> = req
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            "none".into()
        } else {
            values.join(", ")
        }
    };
    vec![
        ("path".into(), req.uri().path().to_string()),
        (
            "eid".into(),
            req.uri()
                .query()
                .and_then(query_eid)
                .unwrap_or_else(|| "none".into()),
        ),
        (
            "offered_subprotocols".into(),
            header("Sec-WebSocket-Protocol"),
        ),
        (
            "offered_extensions".into(),
            header("Sec-WebSocket-Extensions"),
        ),
    ]
}

fn header_or_none(resp: &Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_string()
}
