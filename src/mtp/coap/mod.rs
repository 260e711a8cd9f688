//! The CoAP MTP (legacy: deprecated in USP 1.2, obsoleted in USP 1.3), for
//! Agents that still speak it. Each endpoint is a CoAP resource; a Record is
//! a Confirmable POST to the peer's resource, answered 2.04 at once, and the
//! USP answer is a new POST the other way, to the request's `reply-to`.
//! `message`, `blockwise` and `inbox` are sans-I/O; `endpoint` owns the socket.

pub mod blockwise;
mod endpoint;
pub mod inbox;
pub mod message;

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
        }
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
