//! The WebSocket MTP (RFC 6455 with the USP binding): subprotocol `v1.usp`
//! enforced both ways (R-WS.10..12a), the client's Endpoint ID carried as
//! `?eid=` (1.3+, R-WS.10b) or in the older `bbf-usp-protocol` extension
//! header (R-WS.10a), one Record per binary message (R-WS.14). Either role
//! may run over TLS (`wss://`, R-WS.22); the peer's certificate then names
//! its Endpoint ID (R-SEC.0a).

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{
    self,
    client::IntoClientRequest,
    handshake::server::{ErrorResponse, Request, Response},
    http::{HeaderValue, StatusCode},
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};
use tokio_tungstenite::WebSocketStream;

use super::tls::{describe_handshake_error, peer_endpoint_id, ClientTls, ServerTls};
use super::{Inbound, MtpConnection, MtpConnector, MtpError, PeerInfo};
use crate::usp::proto::record::Record;
use crate::usp::record;

pub const SUBPROTOCOL: &str = "v1.usp";
const EXTENSION: &str = "bbf-usp-protocol";
pub const MTP: &str = "WebSocket";
/// How long an accepted TCP connection may take to finish its TLS
/// handshake, so that a silent client cannot hold up the listener.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// RFC 3986 unreserved characters stay as they are; everything else,
/// including `%` and `:`, is percent-encoded (R-WS.10c).
const EID_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One WebSocket session, either role.
pub struct WsConnection<S> {
    stream: WebSocketStream<S>,
    peer: PeerInfo,
    /// Misbehave for the `text-frames` fault: send Records in text frames.
    text_frames: bool,
}

#[async_trait]
impl<S> MtpConnection for WsConnection<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    async fn send(&mut self, record: &[u8]) -> Result<(), MtpError> {
        let message = if self.text_frames {
            // The reference Agent's `text-frames` fault: what a careless
            // Agent does, breaking R-WS.14. A text frame must hold UTF-8,
            // so bytes that are not become U+FFFD.
            Message::Text(String::from_utf8_lossy(record).into_owned().into())
        } else {
            // R-WS.14: one Record per binary message.
            Message::Binary(record.to_vec().into())
        };
        self.stream.send(message).await.map_err(closed_or_io)
    }

    async fn recv(&mut self) -> Result<Inbound, MtpError> {
        loop {
            // StreamExt::next is cancel-safe: a frame is never half-consumed.
            let Some(item) = self.stream.next().await else {
                return Err(MtpError::Closed {
                    code: None,
                    reason: "connection ended without a Close frame".into(),
                });
            };
            match item.map_err(closed_or_io)? {
                Message::Binary(bytes) => return Ok(Inbound::Record(bytes.to_vec())),
                Message::Text(text) => {
                    return Ok(Inbound::Unusable(format!(
                        "a text frame of {} bytes (R-WS.14: a Record travels in a binary frame; a text frame must not be processed)",
                        text.len()
                    )))
                }
                // tungstenite answers Pings itself (R-WS.17); Pongs need nothing.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                Message::Close(frame) => {
                    return Err(MtpError::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    })
                }
            }
        }
    }

    async fn close(&mut self, code: Option<u16>, reason: &str) {
        let frame = code.map(|c| CloseFrame {
            code: CloseCode::from(c),
            reason: reason.to_string().into(),
        });
        // Closing an already-closed socket is not worth reporting.
        let _ = self.stream.close(frame).await;
    }

    fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    fn connect_record(&self, agent_id: &str, controller_id: &str) -> Option<Record> {
        Some(record::websocket_connect(agent_id, controller_id))
    }
}

fn closed_or_io(e: tungstenite::Error) -> MtpError {
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            MtpError::Closed {
                code: None,
                reason: String::new(),
            }
        }
        other => MtpError::Io(other.to_string()),
    }
}

/// The server role: waits for a peer to connect (the usual deployment has
/// the Agent dial the Controller).
pub struct WsServer {
    listener: TcpListener,
    path: Option<String>,
    own_eid: String,
    last_rejection: Option<String>,
    tls: Option<ServerTls>,
    text_frames: bool,
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
            last_rejection: None,
            tls: None,
            text_frames: false,
        })
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

    pub fn local_addr(&self) -> String {
        self.listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// Accepts connections until one completes TLS (when configured) and
    /// a valid USP handshake; rejected attempts are remembered for the report.
    async fn accept_one(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        loop {
            let (tcp, addr) = self
                .listener
                .accept()
                .await
                .map_err(|e| MtpError::Io(e.to_string()))?;
            let outcome = match &self.tls {
                None => self
                    .upgrade(tcp, addr, None)
                    .await
                    .map(|c| Box::new(c) as Box<dyn MtpConnection>),
                Some(tls) => {
                    let accepting = tls.acceptor().accept(tcp);
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accepting).await {
                        Ok(Ok(stream)) => {
                            let cert_eid = peer_endpoint_id(stream.get_ref().1.peer_certificates());
                            self.upgrade(stream, addr, cert_eid)
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
            };
            match outcome {
                Ok(conn) => return Ok(conn),
                Err(why) => self.last_rejection = Some(format!("{addr}: {why}")),
            }
        }
    }

    /// The WebSocket opening handshake on an accepted stream (plain or TLS).
    async fn upgrade<S>(
        &self,
        stream: S,
        addr: std::net::SocketAddr,
        certificate_endpoint_id: Option<String>,
    ) -> Result<WsConnection<S>, String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut eid = None;
        let mut problem = None;
        // The error type is tungstenite's HTTP response; its size is not ours to choose.
        #[allow(clippy::result_large_err)]
        let check = |req: &Request, resp: Response| {
            let outcome = check_request(req, resp, self.path.as_deref(), &self.own_eid);
            match outcome {
                Ok((resp, peer_eid)) => {
                    eid = peer_eid;
                    Ok(resp)
                }
                Err((why, status)) => {
                    problem = Some(why.clone());
                    Err(reject(status, &why))
                }
            }
        };
        match tokio_tungstenite::accept_hdr_async(stream, check).await {
            Ok(stream) => Ok(WsConnection {
                stream,
                peer: PeerInfo {
                    mtp: MTP,
                    address: addr.to_string(),
                    endpoint_id: eid,
                    certificate_endpoint_id,
                },
                text_frames: self.text_frames,
            }),
            Err(e) => Err(problem.unwrap_or_else(|| format!("handshake failed: {e}"))),
        }
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
        self.last_rejection.clone()
    }
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

/// `eid` from a query string such as `eid=proto%3A%3Aagent&x=1`.
pub fn query_eid(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("eid=")?;
        percent_decode_str(value)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    })
}

/// `eid` from `bbf-usp-protocol; eid="..."` (USP 1.1/1.2 form).
pub fn extension_eid(header: &str) -> Option<String> {
    header.split(',').find_map(|ext| {
        let mut parts = ext.split(';').map(str::trim);
        if parts.next()? != EXTENSION {
            return None;
        }
        parts.find_map(|p| {
            let v = p.strip_prefix("eid=")?;
            Some(v.trim_matches('"').to_string())
        })
    })
}

/// The client role: connects to a peer's WebSocket server.
pub struct WsDialer {
    url: String,
    own_eid: String,
    tls: Option<ClientTls>,
    text_frames: bool,
}

impl WsDialer {
    /// `url` is the peer's `ws://host:port/path`; the `eid` query item with
    /// our Endpoint ID is added here (R-WS.10b).
    pub fn new(url: &str, own_eid: &str) -> Self {
        WsDialer {
            url: url.to_string(),
            own_eid: own_eid.to_string(),
            tls: None,
            text_frames: false,
        }
    }

    /// Connections send Records in text frames (the reference Agent's
    /// `text-frames` fault, breaking R-WS.14).
    pub fn with_text_frames(mut self, text_frames: bool) -> Self {
        self.text_frames = text_frames;
        self
    }

    /// The TLS settings a `wss://` URL is reached with.
    pub fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    fn connect_error(&self, reason: impl Into<String>) -> MtpError {
        MtpError::Connect {
            address: self.url.clone(),
            reason: reason.into(),
        }
    }

    pub fn url_with_eid(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}eid={}",
            self.url,
            utf8_percent_encode(&self.own_eid, EID_ENCODE)
        )
    }

    /// Connects, completes TLS for `wss://` and the WebSocket handshake.
    pub async fn connect(&self) -> Result<Box<dyn MtpConnection>, MtpError> {
        let url = self.url_with_eid();
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| self.connect_error(e.to_string()))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        let secure = request.uri().scheme_str() == Some("wss");
        let host = request
            .uri()
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .ok_or_else(|| self.connect_error("the URL has no host"))?;
        let port = request
            .uri()
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 });
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| self.connect_error(e.to_string()))?;
        match (&self.tls, secure) {
            (None, false) => Ok(Box::new(self.upgrade(request, tcp, None).await?)),
            (Some(tls), true) => {
                let name = rustls_pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| self.connect_error(format!("'{host}' as TLS server name: {e}")))?;
                let stream =
                    tls.connector()
                        .connect(name, tcp)
                        .await
                        .map_err(|e| MtpError::Handshake {
                            mtp: MTP,
                            reason: describe_handshake_error(&e),
                        })?;
                let cert_eid = peer_endpoint_id(stream.get_ref().1.peer_certificates());
                Ok(Box::new(self.upgrade(request, stream, cert_eid).await?))
            }
            (None, true) => Err(self.connect_error(
                "a wss:// URL needs TLS settings (a tls: section in the target, or --tls-ca)",
            )),
            (Some(_), false) => Err(self.connect_error(
                "TLS is configured but the URL is ws://; use wss:// to connect over TLS",
            )),
        }
    }

    async fn upgrade<S>(
        &self,
        request: tungstenite::handshake::client::Request,
        stream: S,
        certificate_endpoint_id: Option<String>,
    ) -> Result<WsConnection<S>, MtpError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // tungstenite refuses a response without the subprotocol we asked
        // for, which is exactly R-WS.12.
        let (stream, response) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| match e {
                tungstenite::Error::Io(io) => self.connect_error(io.to_string()),
                tungstenite::Error::Protocol(p) => MtpError::Handshake {
                    mtp: MTP,
                    reason: format!("{p} (R-WS.12: the server must echo {SUBPROTOCOL})"),
                },
                other => MtpError::Handshake {
                    mtp: MTP,
                    reason: other.to_string(),
                },
            })?;
        let peer_eid = response
            .headers()
            .get_all("Sec-WebSocket-Extensions")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(extension_eid);
        Ok(WsConnection {
            stream,
            peer: PeerInfo {
                mtp: MTP,
                address: self.url.clone(),
                endpoint_id: peer_eid,
                certificate_endpoint_id,
            },
            text_frames: self.text_frames,
        })
    }
}

#[async_trait]
impl MtpConnector for WsDialer {
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        self.connect().await
    }

    fn describe(&self) -> String {
        format!("WebSocket client to {}", self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eid_is_percent_encoded_in_the_query() {
        let d = WsDialer::new("ws://127.0.0.1:1/usp", "proto::a%b");
        assert_eq!(
            d.url_with_eid(),
            "ws://127.0.0.1:1/usp?eid=proto%3A%3Aa%25b"
        );
        assert_eq!(
            query_eid("x=1&eid=proto%3A%3Aa%25b").as_deref(),
            Some("proto::a%b")
        );
    }

    #[test]
    fn legacy_extension_eid_is_read() {
        assert_eq!(
            extension_eid("permessage-deflate, bbf-usp-protocol; eid=\"os::0025-1\"").as_deref(),
            Some("os::0025-1")
        );
        assert_eq!(extension_eid("permessage-deflate"), None);
    }
}
