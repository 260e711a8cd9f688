//! The reference Agent over the legacy CoAP MTP, and its CoAP faults.

use std::time::Duration;

use super::{agent_dials, Started};
use crate::agent::faults::{Fault, FaultSet};
use crate::agent::runtime::AgentHost;
use crate::mtp::coap::{CoapConfig, CoapControl, CoapEndpoint, CoapQuirks};

/// Loopback never loses a datagram; a short ACK timeout keeps a run with a
/// silent peer short (RFC 7252's 2 s default is for real networks).
const LOOPBACK_ACK_TIMEOUT: Duration = Duration::from_millis(300);

/// Two CoAP resources on free 127.0.0.1 ports, each configured with the
/// other's URI (the Agent's LocalAgent.Controller.{i}.MTP.{i}.CoAP config).
/// The harness's keeps the test controls (TP-469 section 5).
pub(super) async fn coap(host: AgentHost) -> Result<Started, String> {
    const PATH: &str = "/usp";
    let config = |peer: Option<String>| {
        CoapConfig::new("127.0.0.1:0", PATH, peer).with_ack_timeout(LOOPBACK_ACK_TIMEOUT)
    };
    let mut agent_side = CoapEndpoint::bind(with_coap_faults(config(None), host.faults()))
        .await
        .map_err(|e| e.to_string())?;
    let control = CoapControl::new();
    let harness = CoapEndpoint::bind(
        config(Some(agent_side.uri().to_string())).with_control(control.clone()),
    )
    .await
    .map_err(|e| e.to_string())?;
    agent_side
        .set_peer(harness.uri())
        .map_err(|e| e.to_string())?;
    Ok(Started {
        coap_control: Some(control),
        ..agent_dials(harness, agent_side, host)
    })
}

/// The reference Agent's CoAP endpoint with its CoAP faults applied.
pub fn with_coap_faults(config: CoapConfig, faults: &FaultSet) -> CoapConfig {
    let quirks = CoapQuirks {
        content_format: faults.contains(Fault::CoapWrongContentFormat).then_some(0),
        no_block_wise: faults.contains(Fault::CoapNoBlockWise),
        created_not_changed: faults.contains(Fault::CoapCreatedNotChanged),
        lenient: faults.contains(Fault::CoapLenientInbox),
    };
    let config = config.with_quirks(quirks);
    match faults.contains(Fault::CoapNoRetransmit) {
        true => config.with_max_retransmit(0),
        false => config,
    }
}
