//! The WebSocket client role: connecting to the peer's server, with the
//! Endpoint ID in the `eid` query (R-WS.10b).

use async_trait::async_trait;
use percent_encoding::utf8_percent_encode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

use crate::mtp::tls::channel::{ChannelSecurity, TlsSession};
use crate::mtp::tls::{describe_handshake_error, peer_endpoint_id, ClientTls};
use crate::mtp::{MtpConnection, MtpConnector, MtpError, PeerInfo};

use super::*;

/// The client role: connects to a peer's WebSocket server.
#[derive(Clone)]
pub struct WsDialer {
    url: String,
    own_eid: String,
    tls: Option<ClientTls>,
    text_frames: bool,
    /// The `ws-close-unanswered` fault: a Close is not answered.
    close_unanswered: bool,
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
            close_unanswered: false,
        }
    }

    /// Connections drop the TCP connection on a Close without answering it
    /// (the reference Agent's `ws-close-unanswered` fault, breaking RFC 6455
    /// 5.5.1).
    pub fn with_close_unanswered(mut self, close_unanswered: bool) -> Self {
        self.close_unanswered = close_unanswered;
        self
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
        // One Record per frame, answered at once: Nagle only adds latency (benches/exchange.rs).
        let _ = tcp.set_nodelay(true);
        match (&self.tls, secure) {
            (None, false) => {
                let plain = ChannelSecurity::Plaintext { first_byte: None };
                Ok(Box::new(self.upgrade(request, tcp, None, plain).await?))
            }
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
                let state = stream.get_ref().1;
                let cert_eid = peer_endpoint_id(state.peer_certificates());
                let channel = ChannelSecurity::Tls(TlsSession::of(state));
                Ok(Box::new(
                    self.upgrade(request, stream, cert_eid, channel).await?,
                ))
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
        channel: ChannelSecurity,
    ) -> Result<WsConnection<S>, MtpError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // tungstenite refuses a response without the subprotocol we asked
        // for, which is exactly R-WS.12.
        let (stream, response) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config()))
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
                channel: Some(channel),
            },
            text_frames: self.text_frames,
            answer_close: !self.close_unanswered,
            control: None,
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

    fn redirect(&mut self, url: &str) -> Result<(), String> {
        match url.split_once("://") {
            Some(("ws" | "wss", _)) => {
                self.url = url.to_string();
                Ok(())
            }
            _ => Err(format!(
                "{url:?} is not a ws:// or wss:// URL, the only Controller URLs this WebSocket client can dial"
            )),
        }
    }
}
