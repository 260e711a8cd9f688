//! The reference Agent over WebSocket, plain or wss, in either role, with
//! the read-only Controller's session.

use super::{
    agent_listens, readonly_entry, two_dialers, ws_retry, ExtraController, LoopbackTls, Started,
};
use crate::agent::faults::Fault;
use crate::agent::runtime::{AgentHost, BackoffSource};
use crate::cli::Role;
use crate::mtp::tls::pki::TestCa;
use crate::mtp::tls::{ClientAuth, ClientTls, ServerTls, ServerTrust};
use crate::mtp::websocket::control::SecondSession;
use crate::mtp::websocket::{WsControl, WsDialer, WsServer};
use crate::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID, READONLY_CONTROLLER_ID};

pub(super) async fn websocket(role: Role, host: AgentHost) -> Result<Started, String> {
    const PATH: &str = "/usp";
    // The `text-frames` fault (R-WS.14) is a knob of the Agent's connections.
    let text_frames = host.faults().contains(Fault::TextFrames);
    let close_unanswered = host.faults().contains(Fault::WsCloseUnanswered);
    match role {
        Role::Server => {
            let control = WsControl::new();
            let server = WsServer::bind("127.0.0.1:0", Some(PATH.into()), DEFAULT_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_control(control.clone());
            let agent_side = WsDialer::new(
                &format!("ws://{}{PATH}", server.local_addr()),
                DEFAULT_AGENT_ID,
            )
            .with_text_frames(text_frames)
            .with_close_unanswered(close_unanswered);
            // The read-only Controller listens on its own port, and the Agent
            // dials it too (its Controller.2.MTP.1), as it would a second
            // Controller in the field.
            let readonly = WsServer::bind("127.0.0.1:0", Some(PATH.into()), READONLY_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?;
            let readonly_agent_side = WsDialer::new(
                &format!("ws://{}{PATH}", readonly.local_addr()),
                DEFAULT_AGENT_ID,
            )
            .with_text_frames(text_frames);
            // As for a target's Controllers (src/commands/run.rs).
            let readonly = readonly.accepting_ahead();
            let retry = ws_retry(&host);
            // After a refused handshake the waits come from the dialed
            // Controller's MTP.{i}.WebSocket.SessionRetry* (R-WS.19-21).
            let host = host.with_backoff(BackoffSource::WebSocket);
            Ok(Started {
                ws_control: Some(control),
                ..two_dialers(
                    server,
                    agent_side,
                    readonly,
                    readonly_agent_side,
                    host,
                    retry,
                )
            })
        }
        Role::Client => {
            let agent_side = WsServer::bind("127.0.0.1:0", None, DEFAULT_AGENT_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_text_frames(text_frames);
            let url = format!("ws://{}/", agent_side.local_addr());
            let harness = WsDialer::new(&url, DEFAULT_CONTROLLER_ID);
            // The read-only Controller dials the same Agent with its own eid.
            let readonly = WsDialer::new(&url, READONLY_CONTROLLER_ID);
            Ok(Started {
                controllers: vec![ExtraController {
                    entry: readonly_entry(),
                    connector: Ok(Box::new(readonly)),
                }],
                ws_second_session: Some(SecondSession(harness.clone())),
                ..agent_listens(agent_side, harness, host)
            })
        }
    }
}

/// wss with a throw-away PKI made for this run: a CA, a Controller
/// certificate and an Agent certificate, each naming its Endpoint ID in
/// the subjectAltName (R-SEC.0a). Nothing is written to disk.
pub(super) async fn secure_websocket(
    role: Role,
    host: AgentHost,
    tls: &LoopbackTls,
) -> Result<Started, String> {
    const PATH: &str = "/usp";
    let e = |e: crate::mtp::tls::TlsError| e.to_string();
    let ca = TestCa::new("usp-plugfest throw-away CA").map_err(e)?;
    let controller = ca.issue(DEFAULT_CONTROLLER_ID).map_err(e)?.identity();
    let agent = ca.issue(&tls.agent_certificate_id).map_err(e)?.identity();
    let text_frames = host.faults().contains(Fault::TextFrames);
    let close_unanswered = host.faults().contains(Fault::WsCloseUnanswered);
    match role {
        Role::Server => {
            // The harness asks for the Agent's certificate to learn and
            // check its identity.
            let server_tls =
                ServerTls::new(controller, ClientAuth::Optional(vec![ca.cert()])).map_err(e)?;
            let control = WsControl::new();
            let server = WsServer::bind("127.0.0.1:0", Some(PATH.into()), DEFAULT_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_tls(server_tls)
                .with_control(control.clone());
            // `mtp-tls-ignored`: the Agent dials ws:// although its
            // Controller's MTP says TLS; the harness's server sees a
            // plaintext first byte and says so.
            let tls_ignored = host.faults().contains(Fault::MtpTlsIgnored);
            let dial = |address: String, identity| -> Result<WsDialer, String> {
                Ok(match tls_ignored {
                    true => WsDialer::new(&format!("ws://{address}{PATH}"), DEFAULT_AGENT_ID),
                    false => WsDialer::new(&format!("wss://{address}{PATH}"), DEFAULT_AGENT_ID)
                        .with_tls(
                            ClientTls::new(ServerTrust::Roots(vec![ca.cert()]), Some(identity))
                                .map_err(e)?,
                        ),
                })
            };
            let agent_side = dial(server.local_addr(), agent)?
                .with_text_frames(text_frames)
                .with_close_unanswered(close_unanswered);
            // The read-only Controller: its own certificate, port and dialer.
            let readonly_identity = ca.issue(READONLY_CONTROLLER_ID).map_err(e)?.identity();
            let readonly_tls =
                ServerTls::new(readonly_identity, ClientAuth::Optional(vec![ca.cert()]))
                    .map_err(e)?;
            let readonly = WsServer::bind("127.0.0.1:0", Some(PATH.into()), READONLY_CONTROLLER_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_tls(readonly_tls);
            let agent_again = ca.issue(&tls.agent_certificate_id).map_err(e)?.identity();
            let readonly_agent_side =
                dial(readonly.local_addr(), agent_again)?.with_text_frames(text_frames);
            let readonly = readonly.accepting_ahead();
            let retry = ws_retry(&host);
            // After a refused handshake the waits come from the dialed
            // Controller's MTP.{i}.WebSocket.SessionRetry* (R-WS.19-21).
            let host = host.with_backoff(BackoffSource::WebSocket);
            Ok(Started {
                ws_control: Some(control),
                ..two_dialers(
                    server,
                    agent_side,
                    readonly,
                    readonly_agent_side,
                    host,
                    retry,
                )
            })
        }
        Role::Client => {
            // R-MTP.1: the Agent requires the Controller's certificate.
            let agent_tls =
                ServerTls::new(agent, ClientAuth::Required(vec![ca.cert()])).map_err(e)?;
            let agent_side = WsServer::bind("127.0.0.1:0", None, DEFAULT_AGENT_ID)
                .await
                .map_err(|e| e.to_string())?
                .with_tls(agent_tls)
                .with_text_frames(text_frames);
            let url = format!("wss://{}/", agent_side.local_addr());
            let trust = if tls.insecure {
                ServerTrust::Insecure
            } else {
                ServerTrust::Roots(vec![ca.cert()])
            };
            let readonly_identity = ca.issue(READONLY_CONTROLLER_ID).map_err(e)?.identity();
            let readonly_trust = if tls.insecure {
                ServerTrust::Insecure
            } else {
                ServerTrust::Roots(vec![ca.cert()])
            };
            let readonly_tls =
                ClientTls::new(readonly_trust, Some(readonly_identity)).map_err(e)?;
            let harness_tls = ClientTls::new(trust, Some(controller)).map_err(e)?;
            let harness = WsDialer::new(&url, DEFAULT_CONTROLLER_ID).with_tls(harness_tls);
            let readonly = WsDialer::new(&url, READONLY_CONTROLLER_ID).with_tls(readonly_tls);
            Ok(Started {
                controllers: vec![ExtraController {
                    entry: readonly_entry(),
                    connector: Ok(Box::new(readonly)),
                }],
                ws_second_session: Some(SecondSession(harness.clone())),
                ..agent_listens(agent_side, harness, host)
            })
        }
    }
}
