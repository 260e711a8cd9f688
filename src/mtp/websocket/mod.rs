//! The WebSocket MTP (RFC 6455 with the USP binding): subprotocol `v1.usp`
//! enforced both ways (R-WS.10..12a), the client's Endpoint ID carried as
//! `?eid=` (1.3+, R-WS.10b) or in the older `bbf-usp-protocol` extension
//! header (R-WS.10a), one Record per binary message (R-WS.14). Either role
//! may run over TLS (`wss://`, R-WS.22); the peer's certificate then names
//! its Endpoint ID (R-SEC.0a).

mod ahead;
pub mod control;
mod dialer;
mod frames;
mod server;

pub use ahead::AcceptingAhead;
pub use control::{WsControl, WsFrames};
pub use dialer::WsDialer;
pub use server::WsServer;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use percent_encoding::{percent_decode_str, AsciiSet, NON_ALPHANUMERIC};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::{
    self,
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};
use tokio_tungstenite::WebSocketStream;

use super::{BadRecordAnswer, Inbound, MtpConnection, MtpError, PeerInfo};
use crate::usp::proto::record::Record;
use crate::usp::record;

pub const SUBPROTOCOL: &str = "v1.usp";
const EXTENSION: &str = "bbf-usp-protocol";
pub const MTP: &str = "WebSocket";
/// How long an accepted TCP connection may take to finish its TLS
/// handshake, so that a silent client cannot hold up the listener.
const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The same bound for the WebSocket opening handshake (HTTP upgrade).
const OPENING_HANDSHAKE_TIMEOUT: std::time::Duration = TLS_HANDSHAKE_TIMEOUT;

/// Bytes read from the socket per read call. tungstenite's default (128 KiB)
/// is zero-filled on every read, which cost more than the exchange of a small
/// Record (benches/exchange.rs) and held 128 KiB per connection at plugfest
/// scale (`plugfest bench`); larger frames still grow the buffer as needed.
const READ_BUFFER_SIZE: usize = 8 * 1024;

/// The largest Record (one WebSocket message) taken from a peer: the same
/// bound as the STOMP and UDS framings, so a hostile peer cannot make the
/// harness buffer without limit.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// The settings of every WebSocket connection, either role.
pub fn ws_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .max_message_size(Some(MAX_RECORD_BYTES))
        .max_frame_size(Some(MAX_RECORD_BYTES))
}

/// RFC 3986 unreserved characters stay as they are; everything else,
/// including `%` and `:`, is percent-encoded (R-WS.10c).
const EID_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How long answering a peer's Close may take before the connection is
/// simply dropped.
const CLOSE_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// One WebSocket session, either role.
pub struct WsConnection<S> {
    stream: WebSocketStream<S>,
    peer: PeerInfo,
    /// Misbehave for the `text-frames` fault: send Records in text frames.
    text_frames: bool,
    /// Whether a Close from the peer is answered with a Close (RFC 6455
    /// 5.5.1); false only for the `ws-close-unanswered` fault.
    answer_close: bool,
    /// Test controls (`ws_control` steps); `None` on a plain connection,
    /// so the per-Record path pays one branch and nothing else.
    control: Option<Box<frames::ConnControl>>,
}

#[async_trait]
impl<S> MtpConnection for WsConnection<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    async fn send(&mut self, record: &[u8]) -> Result<(), MtpError> {
        if self.control.as_ref().is_some_and(|c| c.fragments_pending()) {
            return self.send_fragmented(record).await;
        }
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
        if let Some(kept) = self.control.as_mut().and_then(|c| c.pending.pop_front()) {
            return Ok(kept);
        }
        loop {
            // StreamExt::next is cancel-safe: a frame is never half-consumed.
            let Some(item) = self.stream.next().await else {
                self.note_end(None);
                return Err(MtpError::Closed {
                    code: None,
                    reason: "connection ended without a Close frame".into(),
                });
            };
            let message = match item {
                Ok(m) => m,
                Err(e) => {
                    self.note_end(Some(&e));
                    return Err(closed_or_io(e));
                }
            };
            match message {
                Message::Binary(bytes) => return Ok(Inbound::Record(bytes.to_vec())),
                Message::Text(text) => {
                    self.note_text(&text);
                    return Ok(Inbound::Unusable(format!(
                        "a text frame of {} bytes (R-WS.14: a Record travels in a binary frame; a text frame must not be processed)",
                        text.len()
                    )));
                }
                // tungstenite answers Pings itself (R-WS.17); Pongs need nothing.
                Message::Ping(p) => {
                    self.note_control("PING", &p);
                    continue;
                }
                Message::Pong(p) => {
                    self.note_control("PONG", &p);
                    continue;
                }
                Message::Frame(_) => continue,
                Message::Close(frame) => {
                    self.note_close(frame.as_ref());
                    if self.answer_close {
                        // RFC 6455 5.5.1: the Close is answered with a Close.
                        // tungstenite has queued the answer; flushing sends
                        // it (`close()` would try to send a second one), and
                        // the peer then ends the TCP connection.
                        let _ =
                            tokio::time::timeout(CLOSE_ANSWER_WITHIN, self.stream.flush()).await;
                    }
                    return Err(MtpError::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    });
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

    fn ws_frames(&mut self) -> Option<&mut dyn WsFrames> {
        if self.control.is_some() {
            Some(self)
        } else {
            None
        }
    }

    fn connect_record(&self, agent_id: &str, controller_id: &str) -> Option<Record> {
        Some(record::websocket_connect(agent_id, controller_id))
    }

    fn bad_record_answer(&self) -> Option<BadRecordAnswer> {
        Some(BadRecordAnswer::WebSocket1003)
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
        tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            max_size,
        }) => MtpError::Io(format!(
            "the peer sent a message of {size} bytes, larger than the {max_size}-byte limit on one Record"
        )),
        other => MtpError::Io(other.to_string()),
    }
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
