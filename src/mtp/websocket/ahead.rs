//! Accepting ahead: a WebSocket server that answers Agents as they dial,
//! from the moment it is bound, and hands the newest session to whoever
//! asks. The server role's `establish` only accepts when the run first
//! needs a connection; for a Controller whose first case comes minutes
//! into the run, an Agent that dialed at start (as it must, R-WS.19) has
//! long given up on its unanswered handshake by then, and the queued
//! socket is dead (found against obuspa: it abandons a handshake after
//! about 5 s and redials).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::server::lock;
use super::WsServer;
use crate::mtp::{MtpConnection, MtpConnector, MtpError};

/// After a failed `accept` (out of file descriptors ...), before the next.
const ACCEPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

pub struct AcceptingAhead {
    arrived: mpsc::UnboundedReceiver<Box<dyn MtpConnection>>,
    /// The newest session taken off `arrived` and not yet handed out.
    newest: Option<Box<dyn MtpConnection>>,
    description: String,
    last_rejection: Arc<Mutex<Option<String>>>,
    acceptor: JoinHandle<()>,
}

impl WsServer {
    /// Runs this server in a task that completes every handshake as it
    /// arrives (TLS, path, subprotocol: all the usual checks).
    pub fn accepting_ahead(self) -> AcceptingAhead {
        let description = MtpConnector::describe(&self);
        let last_rejection = self.rejections();
        let (tx, arrived) = mpsc::unbounded_channel();
        let server = Arc::new(self);
        let acceptor = tokio::spawn(async move {
            while !tx.is_closed() {
                let Ok((tcp, addr)) = server.accept_tcp().await else {
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                };
                // Each handshake on its own (each is bounded): a client
                // that stalls must not hold up the Agent behind it.
                let (server, tx) = (server.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(conn) = server.handshake(tcp, addr).await {
                        let _ = tx.send(conn);
                    }
                });
            }
        });
        AcceptingAhead {
            arrived,
            newest: None,
            description,
            last_rejection,
            acceptor,
        }
    }
}

impl AcceptingAhead {
    /// The newest session that has arrived; older ones are dropped: an
    /// Agent keeps one session per Controller, so one that dialed again
    /// has given up on the earlier one.
    fn take_newest(&mut self) -> Option<Box<dyn MtpConnection>> {
        while let Ok(conn) = self.arrived.try_recv() {
            self.newest = Some(conn);
        }
        self.newest.take()
    }
}

#[async_trait]
impl MtpConnector for AcceptingAhead {
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        if let Some(conn) = self.take_newest() {
            return Ok(conn);
        }
        self.arrived
            .recv()
            .await
            .ok_or_else(|| MtpError::Io(format!("{} stopped accepting", self.description)))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn last_problem(&self) -> Option<String> {
        lock(&self.last_rejection).clone()
    }

    fn has_waiting_connection(&mut self) -> bool {
        self.newest = self.take_newest();
        self.newest.is_some()
    }
}

impl Drop for AcceptingAhead {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::mtp::websocket::WsDialer;
    use crate::mtp::Inbound;

    const AGENT: &str = "proto::agent";
    const CONTROLLER: &str = "proto::controller";

    async fn server() -> (WsServer, String) {
        let server = WsServer::bind("127.0.0.1:0", Some("/usp".into()), CONTROLLER)
            .await
            .expect("binds");
        let url = format!("ws://{}/usp", server.local_addr());
        (server, url)
    }

    /// The Agent's side of a handshake, as an Agent that gives up after
    /// `patience` would see it.
    async fn dial(url: &str, patience: Duration) -> Option<Box<dyn MtpConnection>> {
        let mut agent = WsDialer::new(url, AGENT);
        tokio::time::timeout(patience, agent.establish())
            .await
            .ok()
            .and_then(Result::ok)
    }

    #[tokio::test]
    async fn an_agent_that_dials_early_is_answered_at_once() {
        // The plain server answers only when asked: an Agent that gives up
        // on a handshake after a while is never answered before then.
        let (lazy, url) = server().await;
        assert!(dial(&url, Duration::from_millis(500)).await.is_none());
        drop(lazy);

        let (ahead, url) = server().await;
        let mut ahead = ahead.accepting_ahead();
        let mut agent = dial(&url, Duration::from_secs(5))
            .await
            .expect("answered before anyone asked for the connection");
        assert!(ahead.has_waiting_connection());
        agent.send(b"record").await.expect("sends");
        let mut conn = ahead.establish().await.expect("the waiting session");
        assert_eq!(conn.peer().endpoint_id.as_deref(), Some(AGENT));
        let got = conn.recv().await.expect("receives");
        assert!(matches!(got, Inbound::Record(r) if r == b"record"));
        assert!(!ahead.has_waiting_connection());
    }

    #[tokio::test]
    async fn the_newest_session_is_handed_out_after_a_redial() {
        let (server, url) = server().await;
        let mut ahead = server.accepting_ahead();
        let mut first = dial(&url, Duration::from_secs(5)).await.expect("first");
        first.close(Some(1001), "going away").await;
        let mut second = dial(&url, Duration::from_secs(5)).await.expect("second");
        // Both have arrived before the harness asks.
        tokio::time::sleep(Duration::from_millis(100)).await;
        second.send(b"from the second").await.expect("sends");
        let mut conn = ahead.establish().await.expect("a session");
        let got = conn.recv().await.expect("the live session");
        assert!(matches!(got, Inbound::Record(r) if r == b"from the second"));
    }

    #[tokio::test]
    async fn a_stalled_client_does_not_hold_up_the_agent() {
        let (server, url) = server().await;
        let address = server.local_addr();
        let mut ahead = server.accepting_ahead();
        // Connects and sends half a request, then nothing.
        let mut stalled = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connects");
        stalled
            .write_all(b"GET /usp HTTP/1.1\r\n")
            .await
            .expect("writes");
        let agent = dial(&url, Duration::from_secs(2)).await;
        assert!(
            agent.is_some(),
            "the Agent behind a stalled client is answered"
        );
        assert!(ahead.establish().await.is_ok());
    }

    #[tokio::test]
    async fn a_refused_handshake_is_remembered() {
        let (server, url) = server().await;
        let mut ahead = server.accepting_ahead();
        let wrong_path = url.replace("/usp", "/other");
        assert!(dial(&wrong_path, Duration::from_secs(2)).await.is_none());
        let problem = ahead.last_problem().expect("the refusal is kept");
        assert!(problem.contains("/other"), "{problem}");
        assert!(!ahead.has_waiting_connection());
    }
}
