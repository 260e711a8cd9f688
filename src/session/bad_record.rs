//! A Record the Agent cannot process, and what the Agent does in the
//! window after it (TP-469 3.1, 6.9): Error Msgs, DisconnectRecords, a new
//! Connect Record, the connection's end. Collected here as plain data; the
//! runner judges them.

use std::time::{Duration, Instant};

use super::{Received, Session, SessionError};
use crate::mtp::{BadRecordAnswer, MtpError};
use crate::trace::{hex_preview, Direction, TraceEntry};
use crate::usp::msg;
use crate::usp::proto::msg::{header::MsgType, Msg};

/// What arrived after the malformed Record, within the window.
#[derive(Debug, Default)]
pub struct AfterBadRecord {
    /// Error Msgs (a USP Record Error answers with one, R-MTP.5).
    pub errors: Vec<Msg>,
    /// DisconnectRecords, described.
    pub disconnects: Vec<String>,
    /// Connect Records on the live connection: the Agent had ended its MTP
    /// session and opened a new one (R-MTP.6).
    pub connect_records: u32,
    /// Anything else set aside, described (Notifys are queued as usual).
    pub others: Vec<String>,
    /// How the connection ended, if it did.
    pub ended: Option<MtpError>,
    /// Why sending the Record failed, if it did (CoAP answers the POST).
    pub refused: Option<MtpError>,
    /// How this binding closes over a bad Record, when it does (read
    /// before the connection could go).
    pub binding_answer: Option<BadRecordAnswer>,
}

impl Session {
    /// Sends `bytes` as one Record on the current connection and watches
    /// the Agent for `window`; returns early when the connection ends.
    pub async fn send_bad_record(
        &mut self,
        bytes: Vec<u8>,
        description: &str,
        window: Duration,
    ) -> Result<AfterBadRecord, SessionError> {
        let _waiting = super::wait_stats::timer(super::wait_stats::WaitKind::Silence);
        self.ensure_connected().await?;
        let mut after = AfterBadRecord {
            binding_answer: self.conn.as_ref().and_then(|c| c.bad_record_answer()),
            ..Default::default()
        };
        self.trace.push(
            TraceEntry::new(Direction::Sent, description.to_string(), bytes.len()).with_note(
                format!("sent on purpose, as the step asks: {}", hex_preview(&bytes)),
            ),
        );
        // Sent here, not through send_bytes: a binding that refuses the
        // Record on delivery (CoAP 4.00) says so in the MtpError.
        let reason = self.not_connected();
        let conn = self
            .conn
            .as_mut()
            .ok_or(SessionError::NotConnected { reason })?;
        if let Err(e) = conn.send(&bytes).await {
            self.conn = None;
            self.ended = Some(format!("sending failed: {e}"));
            after.refused = Some(e);
            return Ok(after);
        }
        let deadline = Instant::now() + window;
        loop {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => {
                    let answer = msg::body_type(&m) != Some(MsgType::Notify)
                        && msg::request_body(&m).is_none();
                    if answer && msg::body_type(&m) == Some(MsgType::Error) {
                        after.errors.push(m);
                    } else {
                        if answer {
                            after.others.push(format!(
                                "a {} (msg_id '{}')",
                                msg::body_type(&m).map(msg::type_name).unwrap_or("Msg"),
                                msg::msg_id(&m)
                            ));
                        }
                        self.on_unsolicited(m).await;
                    }
                }
                Ok(Some(Received::ConnectRecord)) => after.connect_records += 1,
                Ok(Some(Received::Disconnect(why))) => after.disconnects.push(why),
                Ok(Some(Received::Ignored(why))) => after.others.push(why),
                Ok(Some(Received::Segment)) => {}
                Ok(None) => return Ok(after),
                // receive_until has dropped the connection and traced why.
                Err(e) => {
                    after.ended = Some(e);
                    return Ok(after);
                }
            }
        }
    }

    /// How many Connect Records arrived so far, over every connection.
    pub fn connect_records_received(&self) -> u64 {
        self.connect_records
    }
}
