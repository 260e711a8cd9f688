//! The reference Agent over a Unix domain socket, in either role.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{agent_listens, readonly_entry, two_dialers, ExtraController, Started, RECONNECT};
use crate::agent::runtime::AgentHost;
use crate::cli::Role;
use crate::mtp::uds::{UdsDialer, UdsListener};
use crate::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID, READONLY_CONTROLLER_ID};

/// A socket path nobody else uses: process id plus a counter, in the temp
/// directory (short, as socket paths are limited to about 100 bytes). The
/// listener that binds it removes the file when dropped.
fn fresh_socket_path() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("plugfest-{}-{n}.sock", std::process::id()))
}

/// UDS as WebSocket: each Controller has its own socket the Agent dials,
/// or the Agent's socket accepts every Controller (the UDS Handshake TLV
/// names which), so the read-only Controller is one more socket or one
/// more dialer.
pub(super) fn uds(role: Role, host: AgentHost) -> Result<Started, String> {
    let path = fresh_socket_path();
    match role {
        Role::Server => {
            let server =
                UdsListener::bind(&path, DEFAULT_CONTROLLER_ID).map_err(|e| e.to_string())?;
            let agent_side = UdsDialer::new(&path, DEFAULT_AGENT_ID);
            let readonly_path = fresh_socket_path();
            let readonly = UdsListener::bind(&readonly_path, READONLY_CONTROLLER_ID)
                .map_err(|e| e.to_string())?;
            let readonly_agent_side = UdsDialer::new(&readonly_path, DEFAULT_AGENT_ID);
            Ok(two_dialers(
                server,
                agent_side,
                readonly,
                readonly_agent_side,
                host,
                RECONNECT,
            ))
        }
        Role::Client => {
            let agent_side =
                UdsListener::bind(&path, DEFAULT_AGENT_ID).map_err(|e| e.to_string())?;
            let harness = UdsDialer::new(&path, DEFAULT_CONTROLLER_ID);
            let readonly = UdsDialer::new(&path, READONLY_CONTROLLER_ID);
            Ok(Started {
                controllers: vec![ExtraController {
                    entry: readonly_entry(),
                    connector: Ok(Box::new(readonly)),
                }],
                ..agent_listens(agent_side, harness, host)
            })
        }
    }
}
