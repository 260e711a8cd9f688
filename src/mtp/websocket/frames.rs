//! The frame-level test controls of one WebSocket connection (`WsFrames`)
//! and the notes it leaves in the control log. Only a connection accepted
//! by a server with a `WsControl` has them.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{
    self,
    protocol::frame::{
        coding::{Data, OpCode},
        Frame,
    },
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};

use super::control::{CloseExchange, Way, WsControl, WsFrames};
use super::{closed_or_io, WsConnection};
use crate::mtp::{Inbound, MtpError};

/// The control state of one connection.
pub(super) struct ConnControl {
    pub log: WsControl,
    pub number: u32,
    /// Records that arrived while a control step waited for something else.
    pub pending: VecDeque<Inbound>,
    /// Records still to send fragmented, and over how many frames each.
    fragment_records: u32,
    fragment_frames: u32,
}

impl ConnControl {
    pub fn new(log: WsControl, number: u32) -> Self {
        ConnControl {
            log,
            number,
            pending: VecDeque::new(),
            fragment_records: 0,
            fragment_frames: 0,
        }
    }

    pub fn fragments_pending(&self) -> bool {
        self.fragment_records > 0
    }
}

/// Up to 16 payload bytes in hex, for the log.
fn preview(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 16 { "…" } else { "" };
    format!("{}{more}", shown.join(""))
}

fn field(name: &str, value: impl ToString) -> (String, String) {
    (name.to_string(), value.to_string())
}

impl<S> WsConnection<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    pub(super) fn with_control(mut self, log: WsControl, number: u32) -> Self {
        self.control = Some(Box::new(ConnControl::new(log, number)));
        self
    }

    fn note(&self, way: Way, kind: &'static str, fields: Vec<(String, String)>) {
        if let Some(c) = &self.control {
            c.log.record(c.number, way, kind, fields);
        }
    }

    pub(super) fn note_control(&self, kind: &'static str, payload: &[u8]) {
        self.note(
            Way::FromAgent,
            kind,
            vec![
                field("payload_bytes", payload.len()),
                field("payload", preview(payload)),
            ],
        );
    }

    pub(super) fn note_text(&self, text: &str) {
        self.note(
            Way::FromAgent,
            "TEXT",
            vec![field("payload_bytes", text.len())],
        );
    }

    pub(super) fn note_close(&self, frame: Option<&CloseFrame>) {
        let fields = match frame {
            Some(f) => vec![
                field("code", u16::from(f.code)),
                field("reason", f.reason.as_str()),
            ],
            None => vec![field("code", "none (Close frame without a status)")],
        };
        self.note(Way::FromAgent, "CLOSE", fields);
    }

    /// The connection ended without a Close frame, or with a transport error.
    pub(super) fn note_end(&self, error: Option<&tungstenite::Error>) {
        let what = match error {
            None => "the TCP connection ended without a Close frame".to_string(),
            Some(e) => e.to_string(),
        };
        self.note(Way::FromAgent, "CONNECTION ENDED", vec![field("how", what)]);
    }

    /// Sends one Record as a first binary frame and continuation frames.
    pub(super) async fn send_fragmented(&mut self, record: &[u8]) -> Result<(), MtpError> {
        let frames = match self.control.as_mut() {
            Some(c) => {
                c.fragment_records = c.fragment_records.saturating_sub(1);
                c.fragment_frames.max(2) as usize
            }
            None => 1,
        };
        // Never more frames than bytes: each frame carries at least one.
        let frames = frames.min(record.len().max(1));
        let size = record.len().div_ceil(frames).max(1);
        let chunks: Vec<&[u8]> = if record.is_empty() {
            vec![record]
        } else {
            record.chunks(size).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Data(Data::Binary)
            } else {
                OpCode::Data(Data::Continue)
            };
            let frame = Frame::message(chunk.to_vec(), opcode, i == last);
            self.stream
                .send(Message::Frame(frame))
                .await
                .map_err(closed_or_io)?;
        }
        self.note(
            Way::ToAgent,
            "FRAGMENTED",
            vec![
                field("record_bytes", record.len()),
                field("frames", chunks.len()),
            ],
        );
        Ok(())
    }
}

#[async_trait]
impl<S> WsFrames for WsConnection<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    async fn ping(
        &mut self,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Option<Duration>, MtpError> {
        let sent = Instant::now();
        self.stream
            .send(Message::Ping(payload.to_vec().into()))
            .await
            .map_err(closed_or_io)?;
        self.note(
            Way::ToAgent,
            "PING",
            vec![
                field("payload_bytes", payload.len()),
                field("payload", preview(payload)),
            ],
        );
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Ok(None),
                Ok(next) => next,
            };
            let message = match next {
                None => {
                    self.note_end(None);
                    return Err(MtpError::Closed {
                        code: None,
                        reason: "connection ended without a Close frame".into(),
                    });
                }
                Some(Err(e)) => {
                    self.note_end(Some(&e));
                    return Err(closed_or_io(e));
                }
                Some(Ok(m)) => m,
            };
            match message {
                Message::Pong(p) => {
                    self.note_control("PONG", &p);
                    if p.as_ref() == payload {
                        return Ok(Some(sent.elapsed()));
                    }
                }
                Message::Ping(p) => self.note_control("PING", &p),
                Message::Binary(b) => {
                    if let Some(c) = self.control.as_mut() {
                        c.pending.push_back(Inbound::Record(b.to_vec()));
                    }
                }
                Message::Text(t) => {
                    self.note_text(&t);
                    if let Some(c) = self.control.as_mut() {
                        c.pending.push_back(Inbound::Unusable(format!(
                            "a text frame of {} bytes (R-WS.14)",
                            t.len()
                        )));
                    }
                }
                Message::Close(frame) => {
                    self.note_close(frame.as_ref());
                    return Err(MtpError::Closed {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    });
                }
                Message::Frame(_) => {}
            }
        }
    }

    async fn unsolicited_pong(&mut self, payload: &[u8]) -> Result<(), MtpError> {
        self.stream
            .send(Message::Pong(payload.to_vec().into()))
            .await
            .map_err(closed_or_io)?;
        self.note(
            Way::ToAgent,
            "PONG",
            vec![
                field("payload_bytes", payload.len()),
                field("unsolicited", true),
            ],
        );
        Ok(())
    }

    async fn send_text(&mut self, text: &str) -> Result<(), MtpError> {
        self.stream
            .send(Message::Text(text.to_string().into()))
            .await
            .map_err(closed_or_io)?;
        self.note(
            Way::ToAgent,
            "TEXT",
            vec![field("payload_bytes", text.len())],
        );
        Ok(())
    }

    async fn send_binary(&mut self, bytes: &[u8]) -> Result<(), MtpError> {
        self.stream
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .map_err(closed_or_io)?;
        self.note(
            Way::ToAgent,
            "BINARY",
            vec![
                field("payload_bytes", bytes.len()),
                field("payload", preview(bytes)),
            ],
        );
        Ok(())
    }

    fn fragment_next(&mut self, records: u32, frames: u32) {
        if let Some(c) = self.control.as_mut() {
            c.fragment_records = records;
            c.fragment_frames = frames;
        }
    }

    async fn drop_tcp(&mut self) {
        // Shutting down the transport under tungstenite sends FIN (after a
        // TLS close_notify on wss) and no WebSocket Close frame.
        let _ = self.stream.get_mut().shutdown().await;
        self.note(
            Way::ToAgent,
            "TCP DROPPED",
            vec![field("how", "TCP shutdown without a Close frame")],
        );
    }

    async fn close_handshake(
        &mut self,
        code: u16,
        timeout: Duration,
    ) -> Result<CloseExchange, MtpError> {
        const REASON: &str = "usp-plugfest closes the session (TP-469 7.4)";
        let close = CloseFrame {
            code: CloseCode::from(code),
            reason: REASON.into(),
        };
        self.stream
            .send(Message::Close(Some(close)))
            .await
            .map_err(closed_or_io)?;
        self.note(
            Way::ToAgent,
            "CLOSE",
            vec![field("code", code), field("reason", REASON)],
        );
        let sent = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answer = None;
        loop {
            let next = match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => {
                    return Ok(CloseExchange {
                        answer,
                        ended: false,
                        waited: sent.elapsed(),
                    })
                }
                Ok(next) => next,
            };
            match next {
                Some(Ok(Message::Close(frame))) => {
                    self.note_close(frame.as_ref());
                    answer = Some(frame.map(|f| u16::from(f.code)));
                }
                // After our Close the peer may still have had data on its
                // way; it is not processed (RFC 6455 1.4).
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    // The end of a completed exchange is no error to note.
                    if answer.is_none() {
                        self.note_end(Some(&e));
                    }
                    break;
                }
                None => {
                    if answer.is_none() {
                        self.note_end(None);
                    }
                    break;
                }
            }
        }
        if answer.is_some() {
            self.note(
                Way::ToAgent,
                "CONNECTION ENDED",
                vec![field("how", "closing handshake complete; TCP closed")],
            );
        }
        Ok(CloseExchange {
            answer,
            ended: true,
            waited: sent.elapsed(),
        })
    }

    fn connection_number(&self) -> u32 {
        self.control.as_ref().map_or(0, |c| c.number)
    }
}
