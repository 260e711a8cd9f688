//! Session behaviour across time rather than per request: waiting for
//! silence (`expect_no_notify`), and following an Agent through a reboot —
//! its connection drops, it comes back, and the Notifys it sends on the way
//! (Boot!) are queued for the next `wait_notify`, never lost.

use std::time::{Duration, Instant};

use super::{Received, Session, SessionError};
use crate::usp::msg;
use crate::usp::proto::msg::{header::MsgType, request::ReqType, Get, Msg};

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
        self.silence(window, false, matches).await
    }

    /// `expect_silence` for a window the case did not choose (the run's
    /// silence window): with `with_silence_barrier`, the window ends as soon
    /// as the answer to a barrier request (a Get of the Agent's own
    /// EndpointID) arrives. The in-process reference Agent sends every Notify
    /// its earlier requests caused before it reads the next request, over an
    /// MTP that keeps order, so once the barrier is answered nothing can
    /// still be on its way. Without the barrier, or when it is not answered
    /// in time, the whole window is waited as before.
    pub async fn expect_silence_default(
        &mut self,
        window: Duration,
        matches: impl Fn(&Msg) -> bool,
    ) -> Result<Option<Msg>, SessionError> {
        let barrier = self.silence_barrier;
        self.silence(window, barrier, matches).await
    }

    async fn silence(
        &mut self,
        window: Duration,
        barrier: bool,
        matches: impl Fn(&Msg) -> bool,
    ) -> Result<Option<Msg>, SessionError> {
        let _waiting = super::wait_stats::timer(super::wait_stats::WaitKind::Silence);
        if let Some(pos) = self.notifications.iter().position(&matches) {
            return Ok(self.notifications.remove(pos));
        }
        self.ensure_connected().await?;
        let deadline = Instant::now() + window;
        let barrier_id = if barrier {
            self.send_barrier().await
        } else {
            None
        };
        loop {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) if msg::body_type(&m) == Some(MsgType::Notify) => {
                    self.acknowledge(&m).await;
                    if matches(&m) {
                        return Ok(Some(m));
                    }
                    self.queue_notification(m);
                }
                Ok(Some(Received::Msg(m)))
                    if barrier_id.as_deref() == Some(msg::msg_id(&m))
                        && msg::request_body(&m).is_none() =>
                {
                    self.note_last("the answer to the silence barrier: every Notify sent before it has arrived");
                    return Ok(None);
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

    /// Sends a request whose answer is not awaited (an Operate with
    /// send_resp false); returns the Msg sent. An answer that comes anyway
    /// is found by `await_no_answer` or `take_answer_to`.
    pub async fn send_unawaited(
        &mut self,
        req: crate::usp::proto::msg::request::ReqType,
    ) -> Result<Msg, (Msg, SessionError)> {
        let sent = msg::request(self.new_msg_id(), req);
        if let Err(e) = self.ensure_connected().await {
            return Err((sent, e));
        }
        match self.send_msg(&sent).await {
            Ok(()) => Ok(sent),
            Err(e) => Err((sent, e)),
        }
    }

    /// Listens up to `window` for an answer to `msg_id`, which must not
    /// come (R-OPR: with send_resp false the Agent SHOULD NOT send an
    /// OperateResp). Notifys are queued meanwhile. None when the window,
    /// or the connection, ended without one. A `default_window` (the
    /// run's) also ends at the answer to a silence barrier, as in
    /// `expect_silence_default`: an answer the Agent gave `msg_id` would
    /// have come before it.
    pub async fn await_no_answer(
        &mut self,
        msg_id: &str,
        window: Duration,
        default_window: bool,
    ) -> Result<Option<Msg>, SessionError> {
        let _waiting = super::wait_stats::timer(super::wait_stats::WaitKind::Silence);
        if let Some(m) = self.take_answer_to(msg_id) {
            return Ok(Some(m));
        }
        let deadline = Instant::now() + window;
        let barrier_id = if default_window && self.silence_barrier {
            self.send_barrier().await
        } else {
            None
        };
        loop {
            match self.receive_until(deadline).await {
                Ok(Some(Received::Msg(m))) => {
                    let is_answer = msg::body_type(&m) != Some(MsgType::Notify)
                        && msg::request_body(&m).is_none();
                    if is_answer && msg::msg_id(&m) == msg_id {
                        return Ok(Some(m));
                    }
                    if is_answer && barrier_id.as_deref() == Some(msg::msg_id(&m)) {
                        self.note_last(&format!("the answer to the silence barrier: an answer to '{msg_id}' would have come before it"));
                        return Ok(None);
                    }
                    self.on_unsolicited(m).await;
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                // receive_until has dropped the connection and traced why.
                Err(_) => return Ok(None),
            }
        }
    }

    /// Removes and returns an answer to `msg_id` that arrived while no
    /// step was waiting for it (e.g. during a reboot's `await_drop`).
    pub fn take_answer_to(&mut self, msg_id: &str) -> Option<Msg> {
        let pos = self
            .answers_set_aside
            .iter()
            .position(|m| msg::msg_id(m) == msg_id)?;
        self.answers_set_aside.remove(pos)
    }

    /// Sends the silence barrier (a Get of `Device.LocalAgent.EndpointID`,
    /// which changes nothing); its msg_id, or None when it could not be sent
    /// (the window is then waited in full).
    async fn send_barrier(&mut self) -> Option<String> {
        let id = self.new_msg_id();
        let get = msg::request(
            id.clone(),
            ReqType::Get(Get {
                param_paths: vec!["Device.LocalAgent.EndpointID".into()],
                max_depth: 0,
            }),
        );
        self.send_msg(&get).await.ok()?;
        self.note_last(
            "silence barrier: its answer comes after every Notify the Agent sent before it",
        );
        Some(id)
    }

    /// Waits up to `timeout` for the Agent's connection to end (or, on a
    /// broker MTP, for its next Connect Record), queueing Notifys meanwhile.
    pub async fn await_drop(&mut self, timeout: Duration) -> Result<ConnectionEnd, SessionError> {
        let _waiting = super::wait_stats::timer(super::wait_stats::WaitKind::Lifecycle);
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
        let _waiting = super::wait_stats::timer(super::wait_stats::WaitKind::Lifecycle);
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

/// Against the real reference Agent in-process over loopback WebSocket.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::faults::{Fault, FaultSet};
    use crate::agent::runtime::AgentHost;
    use crate::agent::{Agent, AgentConfig};
    use crate::cli::Role;
    use crate::commands::loopback;
    use crate::target::DEFAULT_AGENT_ID;
    use crate::usp::proto::msg::{request::ReqType, Get};

    async fn session_with(faults: FaultSet, role: Role) -> (Session, tokio::task::JoinHandle<()>) {
        let agent = Agent::new(AgentConfig {
            endpoint_id: DEFAULT_AGENT_ID.into(),
            faults: faults.clone(),
        });
        loopback::test_session(AgentHost::new(agent, faults), role).await
    }

    fn get() -> ReqType {
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.FriendlyName".into()],
            max_depth: 0,
        })
    }

    /// disconnect-mid-exchange drops the connection; the session survives
    /// it, sees the drop, and gets the Agent back with a fresh Connect
    /// Record, in both roles (as server it waits; as client it redials).
    #[tokio::test]
    async fn survives_a_drop_and_reconnects() {
        for role in [Role::Server, Role::Client] {
            let faults: FaultSet = [Fault::DisconnectMidExchange].into_iter().collect();
            let (mut s, task) = session_with(faults, role).await;
            s.ensure_connected().await.expect("first connection");
            assert!(s.connect_record_seen());
            assert!(
                s.request(get()).await.is_err(),
                "the fault drops the exchange"
            );
            let end = s
                .await_drop(Duration::from_secs(2))
                .await
                .expect("drop seen");
            assert!(matches!(end, ConnectionEnd::Closed(_)), "{role:?}: {end:?}");
            s.connect_record_seen = false;
            let back = s.reconnect_within(Duration::from_secs(5)).await;
            assert!(back.is_ok(), "{role:?}: {back:?}");
            assert!(
                s.connect_record_seen(),
                "{role:?}: Connect Record on the new connection"
            );
            task.abort();
        }
    }

    /// The negative twin: a healthy connection is not a drop.
    #[tokio::test]
    async fn a_connection_that_stays_up_is_reported() {
        let (mut s, task) = session_with(FaultSet::default(), Role::Server).await;
        s.ensure_connected().await.expect("connected");
        let end = s.await_drop(Duration::from_millis(300)).await;
        assert!(
            matches!(end, Err(SessionError::StillConnected { waited_ms: 300 })),
            "{end:?}"
        );
        // Silence on a quiet connection; nothing queued is invented.
        let quiet = s.expect_silence(Duration::from_millis(200), |_| true).await;
        assert!(matches!(quiet, Ok(None)), "{quiet:?}");
        task.abort();
    }

    fn add_value_change_subscription() -> ReqType {
        use crate::usp::proto::msg::add::{CreateObject, CreateParamSetting};
        let settings = [
            ("Enable", "true"),
            ("ID", "barrier-test"),
            ("NotifType", "ValueChange"),
            ("ReferenceList", "Device.DeviceInfo.FriendlyName"),
        ];
        ReqType::Add(crate::usp::proto::msg::Add {
            allow_partial: false,
            create_objs: vec![CreateObject {
                obj_path: "Device.LocalAgent.Subscription.".into(),
                param_settings: settings
                    .iter()
                    .map(|(p, v)| CreateParamSetting {
                        param: p.to_string(),
                        value: v.to_string(),
                        required: true,
                    })
                    .collect(),
            }],
        })
    }

    fn set_friendly_name(name: &str) -> ReqType {
        use crate::usp::proto::msg::set::{UpdateObject, UpdateParamSetting};
        ReqType::Set(crate::usp::proto::msg::Set {
            allow_partial: false,
            update_objs: vec![UpdateObject {
                obj_path: "Device.DeviceInfo.".into(),
                param_settings: vec![UpdateParamSetting {
                    param: "FriendlyName".into(),
                    value: name.into(),
                    required: true,
                }],
            }],
        })
    }

    /// The silence barrier against the in-process Agent: a quiet window
    /// ends at the barrier's answer (the trace says so), and a Notify the
    /// Agent sent before it is still caught — the barrier shortens the wait,
    /// never what it checks.
    #[tokio::test]
    async fn silence_barrier_ends_the_window_and_still_catches_a_notify() {
        let (s, task) = session_with(FaultSet::default(), Role::Server).await;
        let mut s = s.with_silence_barrier(true);
        s.ensure_connected().await.expect("connected");
        s.request(add_value_change_subscription())
            .await
            .map_err(|(_, e)| e)
            .expect("subscription added");
        s.request(set_friendly_name("barrier"))
            .await
            .map_err(|(_, e)| e)
            .expect("FriendlyName set");
        // The ValueChange follows the SetResp; the barrier proves it is in.
        let caught = s
            .expect_silence_default(Duration::from_secs(30), |_| true)
            .await;
        assert!(matches!(caught, Ok(Some(_))), "{caught:?}");
        drop(s.take_trace());
        let quiet = s
            .expect_silence_default(Duration::from_secs(30), |_| true)
            .await;
        assert!(matches!(quiet, Ok(None)), "{quiet:?}");
        let answered = s.trace().iter().any(|e| {
            e.note
                .as_deref()
                .is_some_and(|n| n.starts_with("the answer to the silence barrier"))
        });
        assert!(answered, "the window ended at the barrier: {:?}", s.trace());
        task.abort();
    }
}
