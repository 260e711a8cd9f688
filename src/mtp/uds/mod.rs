//! The UNIX Domain Socket MTP (USP 1.3+): the tokio driver around the
//! sans-I/O `frame` codec. It owns the socket, the Handshake exchange
//! (client first, server answers), Error TLVs and the socket file's life.

pub mod frame;
mod listener;

pub use listener::UdsListener;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use self::frame::{Decoder, Frame, Tlv};
use super::{BadRecordAnswer, Inbound, MtpConnection, MtpConnector, MtpError, PeerInfo};
use crate::usp::proto::record::Record;
use crate::usp::record;

pub const MTP: &str = "UDS";
/// How long a side waits for the peer's Handshake; the spec gives the
/// client 30 s, and the server uses the same bound for a silent client.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
const READ_CHUNK: usize = 16 * 1024;

/// One UDS connection after a completed Handshake, either role.
pub struct UdsConnection {
    stream: UnixStream,
    decoder: Decoder,
    /// Records already decoded from a frame that held several TLVs.
    queued: VecDeque<Vec<u8>>,
    peer: PeerInfo,
    /// Set once the connection is over; later calls return it again.
    ended: Option<MtpError>,
}

impl UdsConnection {
    fn new(stream: UnixStream, address: String) -> Self {
        UdsConnection {
            stream,
            decoder: Decoder::new(),
            queued: VecDeque::new(),
            peer: PeerInfo {
                mtp: MTP,
                address,
                endpoint_id: None,
                certificate_endpoint_id: None,
                channel: None,
            },
            ended: None,
        }
    }

    async fn write_frame(&mut self, tlv: Tlv) -> Result<(), MtpError> {
        self.stream
            .write_all(&frame::encode_one(tlv))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
                    MtpError::Closed {
                        code: None,
                        reason: e.to_string(),
                    }
                }
                _ => MtpError::Io(e.to_string()),
            })
    }

    /// Sends an Error TLV with `why` and shuts the socket down; failures
    /// are not worth reporting, the connection is over either way.
    async fn fail(&mut self, why: &str) {
        let _ = self.write_frame(Tlv::Error(why.to_string())).await;
        let _ = self.stream.shutdown().await;
    }

    /// The next whole frame. Cancel-safe: partial bytes stay in the decoder.
    /// An unparsable frame gets an Error TLV and ends the connection.
    async fn read_frame(&mut self) -> Result<Frame, MtpError> {
        loop {
            if let Some(e) = &self.ended {
                return Err(e.clone());
            }
            match self.decoder.next_frame() {
                Ok(Some(f)) => return Ok(f),
                Ok(None) => {}
                Err(e) => {
                    let why = format!("unparsable UDS frame: {e}");
                    self.ended = Some(MtpError::Closed {
                        code: None,
                        reason: why.clone(),
                    });
                    self.fail(&why).await;
                    continue;
                }
            }
            let mut buf = [0u8; READ_CHUNK];
            match self.stream.read(&mut buf).await {
                Ok(0) => {
                    let reason = match self.decoder.finish() {
                        Ok(()) => "the socket was closed".to_string(),
                        Err(e) => e.to_string(),
                    };
                    self.ended = Some(MtpError::Closed { code: None, reason });
                }
                Ok(n) => self.decoder.push(&buf[..n]),
                Err(e) => self.ended = Some(MtpError::Io(e.to_string())),
            }
        }
    }

    /// Waits for the peer's Handshake TLV and returns its Endpoint ID.
    /// Records that come first are ignored: the handshake is not complete.
    async fn await_handshake(&mut self, timeout: Duration) -> Result<String, MtpError> {
        let wait = async {
            loop {
                let frame = self.read_frame().await?;
                let mut tlvs = frame.tlvs.into_iter();
                for tlv in tlvs.by_ref() {
                    match tlv {
                        Tlv::Handshake(eid) => {
                            // Records after the Handshake in the same frame
                            // already belong to the established connection.
                            self.queue(tlvs)?;
                            return Ok(eid);
                        }
                        Tlv::Error(text) => return Err(peer_error(&text)),
                        Tlv::Record(_) | Tlv::Unknown { .. } => {}
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(eid)) => Ok(eid),
            Ok(Err(e)) => Err(MtpError::Handshake {
                mtp: MTP,
                reason: e.to_string(),
            }),
            Err(_) => {
                let why = format!("no Handshake TLV within {} ms", timeout.as_millis());
                self.fail(&why).await;
                Err(MtpError::Handshake {
                    mtp: MTP,
                    reason: why,
                })
            }
        }
    }

    /// Queues the Records of a frame; an Error TLV ends the connection
    /// (after the Records before it), unknown and repeated Handshake TLVs
    /// are ignored (R-UDS.15).
    fn queue(&mut self, tlvs: impl Iterator<Item = Tlv>) -> Result<(), MtpError> {
        for tlv in tlvs {
            match tlv {
                Tlv::Record(r) => self.queued.push_back(r),
                Tlv::Error(text) => {
                    let e = peer_error(&text);
                    self.ended = Some(e.clone());
                    return Err(e);
                }
                Tlv::Handshake(_) | Tlv::Unknown { .. } => {}
            }
        }
        Ok(())
    }
}

/// How a connection that ended with the peer's Error TLV is described.
pub const PEER_ERROR: &str = "the peer sent an Error TLV";

fn peer_error(text: &str) -> MtpError {
    MtpError::Closed {
        code: None,
        reason: format!("{PEER_ERROR}: {text}"),
    }
}

#[async_trait]
impl MtpConnection for UdsConnection {
    async fn send(&mut self, record: &[u8]) -> Result<(), MtpError> {
        if let Some(e) = &self.ended {
            return Err(e.clone());
        }
        self.write_frame(Tlv::Record(record.to_vec())).await
    }

    async fn recv(&mut self) -> Result<Inbound, MtpError> {
        loop {
            if let Some(r) = self.queued.pop_front() {
                return Ok(Inbound::Record(r));
            }
            let frame = self.read_frame().await?;
            if self.queue(frame.tlvs.into_iter()).is_err() {
                // An Error TLV means the peer is closing: so do we. Records
                // ahead of it are still delivered, then `ended` is returned.
                let _ = self.stream.shutdown().await;
            }
        }
    }

    /// UDS has no close codes; the reason, when given, travels in an Error TLV.
    async fn close(&mut self, _code: Option<u16>, reason: &str) {
        if self.ended.is_some() {
            return;
        }
        self.ended = Some(MtpError::Closed {
            code: None,
            reason: "closed by this side".into(),
        });
        if reason.is_empty() {
            let _ = self.stream.shutdown().await;
        } else {
            self.fail(reason).await;
        }
    }

    fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    fn connect_record(&self, agent_id: &str, controller_id: &str) -> Option<Record> {
        Some(record::uds_connect(agent_id, controller_id))
    }

    fn bad_record_answer(&self) -> Option<BadRecordAnswer> {
        Some(BadRecordAnswer::UdsErrorTlv)
    }
}

/// The UDS client role: connects to a peer's socket path.
pub struct UdsDialer {
    path: PathBuf,
    own_eid: String,
    handshake_timeout: Duration,
}

impl UdsDialer {
    pub fn new(path: impl AsRef<Path>, own_eid: &str) -> Self {
        UdsDialer {
            path: path.as_ref().to_path_buf(),
            own_eid: own_eid.to_string(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Connects, sends our Handshake at once, and waits for the server's.
    pub async fn connect(&self) -> Result<UdsConnection, MtpError> {
        let address = self.path.display().to_string();
        let stream = UnixStream::connect(&self.path)
            .await
            .map_err(|e| MtpError::Connect {
                address: address.clone(),
                reason: e.to_string(),
            })?;
        let mut conn = UdsConnection::new(stream, address);
        conn.write_frame(Tlv::Handshake(self.own_eid.clone()))
            .await?;
        let eid = conn.await_handshake(self.handshake_timeout).await?;
        conn.peer.endpoint_id = Some(eid);
        Ok(conn)
    }
}

#[async_trait]
impl MtpConnector for UdsDialer {
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        Ok(Box::new(self.connect().await?))
    }

    fn describe(&self) -> String {
        format!("UDS client to {}", self.path.display())
    }
}

#[cfg(test)]
mod tests;
