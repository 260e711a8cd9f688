//! TLS for the connection-oriented MTPs (wss today): rustls with the ring
//! provider. Builds client and server configurations from PEM files or the
//! in-memory test PKI, and reads the peer's Endpoint ID from its certificate
//! (R-SEC.0a) so the session can refuse Records from anyone else (R-SEC.10a).
//! `channel` says what a connection's TLS session was, for the checks.

pub mod channel;
pub mod pki;
pub use crate::usp::certificate as san;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use thiserror::Error;
use tokio_rustls::{TlsAcceptor, TlsConnector};

pub use san::certificate_endpoint_id;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TlsError {
    #[error("cannot read {what} from {path}: {reason}")]
    Read {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("invalid TLS configuration: {0}")]
    Config(String),
    #[error("cannot generate the throw-away certificates: {0}")]
    Generate(String),
}

/// A certificate chain (leaf first) and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for Identity {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({} certificates, key)", self.chain.len())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Every certificate in a PEM file (a CA bundle or a chain).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |reason: String| TlsError::Read {
        what: "certificates",
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| read(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read(e.to_string()))?;
    if certs.is_empty() {
        return Err(read("no CERTIFICATE block in the file".into()));
    }
    Ok(certs)
}

/// A certificate chain and private key from PEM files.
pub fn load_identity(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Read {
        what: "a private key",
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Identity { chain, key })
}

fn root_store(roots: &[CertificateDer<'static>]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in roots {
        store
            .add(cert.clone())
            .map_err(|e| TlsError::Config(format!("unusable CA certificate: {e}")))?;
    }
    Ok(store)
}

/// Whom a TLS client trusts.
pub enum ServerTrust {
    /// Server certificates must chain to one of these CAs.
    Roots(Vec<CertificateDer<'static>>),
    /// Any server certificate is accepted (`--insecure`, `tls.insecure`).
    /// The handshake signatures are still checked, so the peer's
    /// certificate still proves possession of its key.
    Insecure,
}

/// The client side of TLS: what a wss dialer uses.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    insecure: bool,
}

impl fmt::Debug for ClientTls {
    // The configuration holds key material: say only how it verifies.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientTls {{ insecure: {} }}", self.insecure)
    }
}

impl ClientTls {
    pub fn new(trust: ServerTrust, identity: Option<Identity>) -> Result<ClientTls, TlsError> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let insecure = matches!(trust, ServerTrust::Insecure);
        let builder = match trust {
            ServerTrust::Roots(roots) => builder.with_root_certificates(root_store(&roots)?),
            ServerTrust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider))),
        };
        let config = match identity {
            Some(id) => builder
                .with_client_auth_cert(id.chain, id.key)
                .map_err(|e| TlsError::Config(format!("client certificate: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        Ok(ClientTls {
            config: Arc::new(config),
            insecure,
        })
    }

    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.config.clone())
    }
}

/// Whose certificates a TLS server asks its clients for.
pub enum ClientAuth {
    /// No client certificate is requested.
    None,
    /// Requested and verified against these CAs when sent; a client
    /// without one is still served (the harness as server: it wants the
    /// Agent's identity but tests Agents that may not send one).
    Optional(Vec<CertificateDer<'static>>),
    /// Required and verified: what an Agent must do (R-MTP.1).
    Required(Vec<CertificateDer<'static>>),
}

/// The server side of TLS: what a wss listener uses.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
}

impl ServerTls {
    pub fn new(identity: Identity, auth: ClientAuth) -> Result<ServerTls, TlsError> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Required(roots) => {
                builder.with_client_cert_verifier(client_verifier(&roots, &provider, false)?)
            }
            ClientAuth::Optional(roots) => {
                builder.with_client_cert_verifier(client_verifier(&roots, &provider, true)?)
            }
        };
        let config = builder
            .with_single_cert(identity.chain, identity.key)
            .map_err(|e| TlsError::Config(format!("server certificate: {e}")))?;
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

fn client_verifier(
    roots: &[CertificateDer<'static>],
    provider: &Arc<CryptoProvider>,
    optional: bool,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let mut builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(root_store(roots)?), provider.clone());
    if optional {
        builder = builder.allow_unauthenticated();
    }
    builder
        .build()
        .map_err(|e| TlsError::Config(format!("client certificate verifier: {e}")))
}

/// The Endpoint ID in the peer's (leaf) certificate, if it sent one.
pub fn peer_endpoint_id(certs: Option<&[CertificateDer<'_>]>) -> Option<String> {
    certs
        .and_then(|c| c.first())
        .and_then(|leaf| certificate_endpoint_id(leaf))
}

/// A failed TLS handshake, said so that the reader knows what to change.
pub fn describe_handshake_error(e: &std::io::Error) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("TLS handshake failed: {e}");
    };
    match tls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => format!(
            "TLS handshake failed: the peer's certificate is not signed by a trusted CA ({tls}); \
             give the CA that issued it (tls.ca / --tls-ca), or tls.insecure: true / --insecure to skip verification"
        ),
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            format!(
                "TLS handshake failed: the peer's certificate does not name the host in the URL ({tls})"
            )
        }
        rustls::Error::NoCertificatesPresented => format!(
            "TLS handshake failed: the peer sent no client certificate, and one is required (R-MTP.1): {tls}"
        ),
        other => format!("TLS handshake failed: {other}"),
    }
}

/// `--insecure`: accepts any server certificate, but still checks the
/// handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
