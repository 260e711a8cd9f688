//! Session behaviour across time rather than per request: waiting for
//! silence (`expect_no_notify`), and following an Agent through a reboot —
//! its connection drops, it comes back, and the Notifys it sends on the way
//! (Boot!) are queued for the next `wait_notify`, never lost.

use std::time::{Duration, Instant};

use super::{Received, Session, SessionError};
use crate::usp::msg;
use crate::usp::proto::msg::{header::MsgType, Msg};

/// How the Agent's connection ended during a reboot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The MTP connection closed after this long.
    Closed(Duration),
    /// On a broker MTP the harness's own connection stays up; the Agent's
    /// new Connect Record (after this long) shows it went away and came back.
    ReconnectedThroughBroker(Duration),
}

impl Session {
    /// The first Notify that `matches`, queued or arriving within `window`;
    /// `None` when the window passes in silence. Non-matching Notifys stay
    /// queued for later steps.
    pub async fn expect_silence(
        &mut self,
        window: Duration,
        matches: impl Fn(&Msg) -> bool,
    ) -> Result<Option<Msg>, SessionError> {
        if let Some(pos) = self.notifications.iter().position(&matches) {
            return Ok(self.notifications.remove(pos));
        }
        self.ensure_connected().await?;
        let deadline = Instant::now() + window;
        loop {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) if msg::body_type(&m) == Some(MsgType::Notify) => {
                    self.acknowledge(&m).await;
                    if matches(&m) {
                        return Ok(Some(m));
                    }
                    self.notifications.push_back(m);
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(SessionError::Closed {
                        detail: e.to_string(),
                        ignored: Vec::new(),
                    })
                }
            }
        }
    }

    /// Waits up to `timeout` for the Agent's connection to end (or, on a
    /// broker MTP, for its next Connect Record), queueing Notifys meanwhile.
    pub async fn await_drop(&mut self, timeout: Duration) -> Result<ConnectionEnd, SessionError> {
        let started = Instant::now();
        if self.conn.is_none() {
            return Ok(ConnectionEnd::Closed(Duration::ZERO));
        }
        let deadline = started + timeout;
        loop {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => self.on_unsolicited(m).await,
                Ok(Some(Received::ConnectRecord)) => {
                    // A fresh Connect Record on a live connection: the Agent
                    // reconnected to the broker (R-MTP.6 on its new session).
                    self.connect_record_seen = true;
                    self.records_before_connect = 0;
                    return Ok(ConnectionEnd::ReconnectedThroughBroker(started.elapsed()));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(SessionError::StillConnected {
                        waited_ms: timeout.as_millis() as u64,
                    })
                }
                // receive_until has dropped the connection and traced why.
                Err(_) => return Ok(ConnectionEnd::Closed(started.elapsed())),
            }
        }
    }

    /// Gets a connection back within `timeout`: as server, waits for the
    /// Agent to dial; as client, redials (an Agent that is restarting
    /// refuses for a while). Returns how long it took; the Connect Record
    /// and any Notifys that follow it are handled as on any connection.
    pub async fn reconnect_within(&mut self, timeout: Duration) -> Result<Duration, SessionError> {
        let started = Instant::now();
        let deadline = started + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.connect_within(left).await {
                Ok(()) => return Ok(started.elapsed()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}
