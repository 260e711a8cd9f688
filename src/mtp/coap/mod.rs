//! The CoAP MTP (legacy: deprecated in USP 1.2, obsoleted in USP 1.3), for
//! Agents that still speak it. Each endpoint is a CoAP resource; a Record is
//! a Confirmable POST to the peer's resource, answered 2.04 at once, and the
//! USP answer is a new POST the other way, to the request's `reply-to`.
//! `message`, `blockwise` and `inbox` are sans-I/O; `endpoint` owns the socket.

pub mod blockwise;
pub mod control;
mod endpoint;
pub mod inbox;
pub mod message;

pub use control::CoapControl;
pub use endpoint::{CoapConnection, CoapEndpoint, CoapStats};

use std::time::Duration;

pub const MTP: &str = "CoAP";
/// How a failed POST that the peer answered 4.00 Bad Request is described
/// (the binding's answer to a Record it cannot decode).
pub const BAD_REQUEST: &str = "answered 4.00";

/// RFC 7252 §4.8 ACK_TIMEOUT is 2 s; loopback runs use less.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// RFC 7252 §4.8 MAX_RETRANSMIT.
pub const DEFAULT_MAX_RETRANSMIT: u32 = 4;
/// Block size for Block1: 1024 bytes keeps each datagram under the
/// ~1152-byte payload guideline of RFC 7252 §4.6.
pub const DEFAULT_BLOCK_SIZE: usize = 1024;
/// The largest Record accepted from a peer.
pub const DEFAULT_MAX_BODY: usize = 4 * 1024 * 1024;

/// How one CoAP endpoint is set up.
#[derive(Debug, Clone)]
pub struct CoapConfig {
    /// Socket address to bind, e.g. `127.0.0.1:5683`.
    pub listen: String,
    /// Our resource path, e.g. `/usp`.
    pub path: String,
    /// The peer's resource URI; when absent, learnt from the `reply-to` of
    /// the first POST received.
    pub peer: Option<String>,
    pub ack_timeout: Duration,
    pub max_retransmit: u32,
    /// Block1 block size: a power of two from 16 to 1024 (RFC 7959 §2.2).
    pub block_size: usize,
    pub max_body: usize,
    /// The test controls and CoAP message log (the harness's endpoint).
    pub control: Option<CoapControl>,
    /// Deviations from the binding (the reference Agent's faults).
    pub quirks: CoapQuirks,
}

/// Deviations from the USP CoAP binding and RFC 7252 / 7959 that the
/// reference Agent can be told to make, so that TP-469 section 5 cases can
/// be seen to fail; all off by default.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoapQuirks {
    /// POST Records with this Content-Format instead of 42.
    pub content_format: Option<u32>,
    /// Send every Record in one message however large: no Block1.
    pub no_block_wise: bool,
    /// Answer a POSTed Record with 2.01 Created instead of 2.04 Changed.
    pub created_not_changed: bool,
    /// Take any method and any Content-Format, and answer 2.04 to a body
    /// that is no USP Record.
    pub lenient: bool,
}

impl CoapConfig {
    pub fn new(listen: &str, path: &str, peer: Option<String>) -> Self {
        CoapConfig {
            listen: listen.to_string(),
            path: path.to_string(),
            peer,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            max_retransmit: DEFAULT_MAX_RETRANSMIT,
            block_size: DEFAULT_BLOCK_SIZE,
            max_body: DEFAULT_MAX_BODY,
            control: None,
            quirks: CoapQuirks::default(),
        }
    }

    pub fn with_control(mut self, control: CoapControl) -> Self {
        self.control = Some(control);
        self
    }

    pub fn with_quirks(mut self, quirks: CoapQuirks) -> Self {
        self.quirks = quirks;
        self
    }

    pub fn with_max_retransmit(mut self, n: u32) -> Self {
        self.max_retransmit = n;
        self
    }

    pub fn with_ack_timeout(mut self, t: Duration) -> Self {
        self.ack_timeout = t;
        self
    }

    pub fn with_block_size(mut self, size: usize) -> Self {
        self.block_size = size;
        self
    }
}

#[cfg(test)]
mod tests;
