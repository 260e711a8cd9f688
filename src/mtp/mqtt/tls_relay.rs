//! MQTT over TLS without rumqttc's TLS feature (which pins rustls-webpki
//! 0.102, with security advisories): we open the TLS session to the broker
//! ourselves with our `ClientTls` and let rumqttc speak plain MQTT to a
//! relay on an ephemeral 127.0.0.1 port that copies bytes both ways.
//! One relay per connection attempt, so every reconnect is a fresh TLS session.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::AlertDescription;
use rustls_pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{HANDSHAKE_TIMEOUT, MTP};
use crate::mtp::tls::{describe_handshake_error, peer_endpoint_id, ClientTls};
use crate::mtp::MtpError;

/// TLS towards the broker (R-MQTT.48: TLS 1.2 or later, which is all
/// `ClientTls` offers).
#[derive(Clone)]
pub struct MqttTls {
    pub client: ClientTls,
}

impl fmt::Debug for MqttTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MqttTls(insecure: {})", self.client.is_insecure())
    }
}

/// A running relay: rumqttc dials `local`; dropping it ends the copy.
pub(super) struct TlsRelay {
    local: SocketAddr,
    task: JoinHandle<()>,
    /// The Endpoint ID in the broker's certificate, if it carries one.
    broker_certificate_endpoint_id: Option<String>,
    /// Why the TLS session ended, when it ended with an error.
    failure: Arc<Mutex<Option<String>>>,
}

impl TlsRelay {
    /// Opens the TLS session to `broker` (`host`:`port`) now, so a refused
    /// handshake is reported as such, then waits on a loopback port for
    /// rumqttc's one TCP connection.
    pub(super) async fn start(
        broker: &str,
        host: &str,
        port: u16,
        tls: &MqttTls,
    ) -> Result<TlsRelay, MtpError> {
        let failed = |reason: String| MtpError::Handshake {
            mtp: MTP,
            reason: format!("TLS to the broker {broker}: {reason}"),
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| failed(format!("'{host}' is not a usable server name: {e}")))?;
        let handshake = async {
            let tcp = TcpStream::connect((host, port))
                .await
                .map_err(|e| MtpError::Connect {
                    address: broker.to_string(),
                    reason: e.to_string(),
                })?;
            // Nagle off, as on rumqttc's side (a Record exchange is a chain
            // of small packets).
            let _ = tcp.set_nodelay(true);
            tls.client
                .connector()
                .connect(name, tcp)
                .await
                .map_err(|e| failed(describe(&e)))
        };
        let upstream = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| failed("no TLS handshake within the time allowed".into()))??;
        let broker_certificate_endpoint_id =
            peer_endpoint_id(upstream.get_ref().1.peer_certificates());
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| MtpError::Io(format!("cannot open the local TLS relay: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| MtpError::Io(format!("cannot open the local TLS relay: {e}")))?;
        let failure = Arc::new(Mutex::new(None));
        let slot = failure.clone();
        let task = tokio::spawn(async move {
            // Exactly one client, and only for as long as a handshake may
            // take: the listener closes with this accept, so nobody else
            // reaches the broker through it.
            let accepted = tokio::time::timeout(HANDSHAKE_TIMEOUT, listener.accept()).await;
            drop(listener);
            let Ok(Ok((mut plain, _))) = accepted else {
                return;
            };
            let _ = plain.set_nodelay(true);
            let mut upstream = upstream;
            // Ends when both directions saw end-of-stream, or on the first
            // error; the error is kept before either socket is closed, so
            // rumqttc's side never sees the close before the reason exists.
            if let Err(e) = tokio::io::copy_bidirectional(&mut plain, &mut upstream).await {
                if let Ok(mut s) = slot.lock() {
                    *s = Some(describe(&e));
                }
            }
        });
        Ok(TlsRelay {
            local,
            task,
            broker_certificate_endpoint_id,
            failure,
        })
    }

    /// The loopback port rumqttc dials instead of the broker.
    pub(super) fn local_port(&self) -> u16 {
        self.local.port()
    }

    pub(super) fn broker_certificate_endpoint_id(&self) -> Option<String> {
        self.broker_certificate_endpoint_id.clone()
    }

    /// Why the TLS session failed, if it did: with TLS 1.3 a broker that
    /// wants a client certificate says so only after the handshake, so
    /// rumqttc sees a closed connection and this names the cause.
    pub(super) fn failure(&self, broker: &str) -> Option<MtpError> {
        let reason = self.failure.lock().ok()?.clone()?;
        Some(MtpError::Handshake {
            mtp: MTP,
            reason: format!("TLS to the broker {broker}: {reason}"),
        })
    }
}

/// How long a dropped relay may go on copying: what the MQTT client wrote
/// last (its DISCONNECT) is still on its way to the broker.
const DRAIN_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

impl Drop for TlsRelay {
    fn drop(&mut self) {
        // The copy ends by itself once the client's socket is closed and
        // its last bytes are relayed; aborting at once would lose them (a
        // DISCONNECT the interposer then never sees, TP-469 11.10/11.11).
        let abort = self.task.abort_handle();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(DRAIN_WITHIN).await;
                    abort.abort();
                });
            }
            Err(_) => abort.abort(),
        }
    }
}

/// A TLS failure towards the broker, said so that the reader knows what to
/// change; the broker's alerts are named as well as our own refusals.
fn describe(e: &std::io::Error) -> String {
    let alert = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|tls| match tls {
            rustls::Error::AlertReceived(a) => Some(*a),
            _ => None,
        });
    match alert {
        Some(AlertDescription::CertificateRequired) => format!(
            "the broker requires a client certificate and we sent none; give tls.cert and tls.key ({e})"
        ),
        Some(
            a @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::HandshakeFailure),
        ) => format!(
            "the broker refused the TLS session (alert {a:?}): it may require a client certificate, or not trust ours"
        ),
        _ => describe_handshake_error(e),
    }
}
