//! TLS payload security for an E2E session context (payload_security
//! TLS12), sans-I/O: the TLS records travel inside SessionContextRecord
//! payloads instead of on a socket. The context originator is the TLS
//! client (R-E2E.41); both sides authenticate with X.509 certificates whose
//! subjectAltName names their Endpoint ID (R-SEC.0a); renegotiation is
//! refused; the cipher suites are the spec's two (TLS 1.2
//! ECDHE-ECDSA-AES128-GCM-SHA256, TLS 1.3 TLS_AES_128_GCM_SHA256) on P-256.
//! Once the handshake is done both sides export the keys that HMAC the
//! Records' non-payload fields (label `EXPORTER-BBF-USP-Record`, empty
//! context, 64 bytes: the client's key first, then the server's).
//!
//! One payload carries the TLS records of one whole Msg (or one handshake
//! flight), so what `receive` decrypts from a reassembled payload is one Msg.

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    ClientConfig, ClientConnection, Connection, ConnectionTrafficSecrets, DigitallySignedStruct,
    DistinguishedName, ServerConfig, ServerConnection, SignatureScheme,
};

use super::tls12_records::{self, Control, Direction};
use crate::usp::certificate::{certificate_endpoint_id, validity};

/// The rules a TLS payload context follows.
pub const RULE_TLS: &str = "R-E2E.41 (TLS12 payload security: TLS inside the payload of a session context, the originator is the client, mutual X.509 authentication, no renegotiation)";
/// The certificate a TLS payload peer shows must name its Endpoint ID.
pub const RULE_CERT_ID: &str =
    "R-SEC.0a (the certificate's subjectAltName names the sender's Endpoint ID)";
/// The label of the HMAC keys' exporter.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-BBF-USP-Record";

/// Which end of the TLS session this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The context originator.
    Client,
    Server,
}

/// A certificate and its P-256 private key (PKCS#8).
#[derive(Clone)]
pub struct Identity {
    pub cert_der: Vec<u8>,
    pub key_pkcs8: Vec<u8>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Identity({:?})",
            certificate_endpoint_id(&self.cert_der).unwrap_or_default()
        )
    }
}

impl Identity {
    /// A new key and a self-signed certificate whose subjectAltName is
    /// `urn:bbf:usp:id:<endpoint_id>`.
    pub fn self_signed(endpoint_id: &str) -> Result<Identity, String> {
        Self::made(endpoint_id, false)
    }

    /// The same, but expired: valid only on 2020-01-01 (TP-469 2.8).
    pub fn expired(endpoint_id: &str) -> Result<Identity, String> {
        Self::made(endpoint_id, true)
    }

    fn made(endpoint_id: &str, expired: bool) -> Result<Identity, String> {
        use rcgen::{CertificateParams, KeyPair, SanType};
        let fail = |e: rcgen::Error| format!("cannot make a certificate: {e}");
        let key = KeyPair::generate().map_err(fail)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 2);
        }
        let uri = format!("{}{endpoint_id}", crate::usp::certificate::USP_URN_PREFIX)
            .try_into()
            .map_err(fail)?;
        params.subject_alt_names.push(SanType::URI(uri));
        let cert = params.self_signed(&key).map_err(fail)?;
        Ok(Identity {
            cert_der: cert.der().to_vec(),
            key_pkcs8: key.serialize_der(),
        })
    }

    fn certified(&self, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, String> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()));
        let signing = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("unusable private key: {e}"))?;
        Ok(Arc::new(CertifiedKey::new(
            vec![CertificateDer::from(self.cert_der.clone())],
            signing,
        )))
    }
}

/// The HMAC keys of a finished handshake.
#[derive(Clone, PartialEq, Eq)]
pub struct MacKeys {
    pub client: [u8; 32],
    pub server: [u8; 32],
}

impl fmt::Debug for MacKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKeys(..)")
    }
}

/// Why the TLS session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The peer sent a fatal alert.
    AlertReceived(String),
    /// Our side refused what the peer sent (an alert went back, in
    /// `Exchange::outgoing`).
    Refused(String),
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::AlertReceived(a) => write!(f, "the peer sent the TLS alert {a}"),
            TlsFailure::Refused(why) => write!(f, "refused by this side: {why}"),
        }
    }
}

/// What feeding one payload gave.
#[derive(Debug, Default)]
pub struct Exchange {
    /// TLS records to send back now (handshake, alerts), one payload.
    pub outgoing: Vec<u8>,
    /// Decrypted application data (one whole Msg, or empty).
    pub plaintext: Vec<u8>,
    pub failure: Option<TlsFailure>,
    /// The peer's alerts and handshake messages, read by hand after this
    /// side asked to renegotiate (before that rustls deals with them).
    pub control: Vec<Control>,
}

/// What the handshake showed of the peer, for checks.
#[derive(Debug, Clone, Default)]
pub struct PeerView {
    /// The Endpoint ID in the peer's certificate, if it named one.
    pub certificate_id: Option<String>,
    /// Client side: whether the server asked for our certificate.
    pub asked_for_certificate: bool,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
}

/// One TLS session carried in a context's payloads.
pub struct PayloadTls {
    engine: Engine,
    role: Role,
    asked: Arc<Mutex<bool>>,
    failed: bool,
    /// Client side: every TLS record written while handshaking (its
    /// Finished among them), for a renegotiation's renegotiation_info.
    handshake_sent: Vec<u8>,
}

/// Who runs the TLS records.
enum Engine {
    Rustls(Box<Connection>),
    /// After this side asked to renegotiate: rustls cannot send that
    /// request, so from then on the records are run by hand.
    ByHand(Box<ByHand>),
    /// Between the two (the keys being taken out of rustls).
    Spent,
}

/// The TLS 1.2 session once rustls has handed over its keys.
struct ByHand {
    tx: Direction,
    rx: Direction,
    keys: MacKeys,
    peer: PeerView,
}

impl fmt::Debug for PayloadTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PayloadTls")
            .field("role", &self.role)
            .field("handshaking", &self.is_handshaking())
            .finish()
    }
}

/// The spec's cipher suites and group, from ring.
fn provider() -> Arc<CryptoProvider> {
    let base = ring::default_provider();
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
            ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ],
        kx_groups: vec![ring::kx_group::SECP256R1],
        ..base
    })
}

/// Which TLS versions a side offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versions {
    /// TLS 1.3 preferred, 1.2 accepted ("TLS 1.2 or later").
    #[default]
    Any,
    Tls12Only,
    Tls13Only,
}

impl Versions {
    fn list(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        use rustls::version::{TLS12, TLS13};
        static ANY: [&rustls::SupportedProtocolVersion; 2] = [&TLS13, &TLS12];
        static ONLY_12: [&rustls::SupportedProtocolVersion; 1] = [&TLS12];
        static ONLY_13: [&rustls::SupportedProtocolVersion; 1] = [&TLS13];
        match self {
            Versions::Any => &ANY,
            Versions::Tls12Only => &ONLY_12,
            Versions::Tls13Only => &ONLY_13,
        }
    }
}

/// Peer certificates are self-signed and trusted on what they name: the
/// handshake signatures are checked, the Endpoint ID is checked by the
/// server's verifier (a client reports it in `PeerView` for the caller's
/// verdict).
#[derive(Debug)]
struct NamedPeer {
    provider: Arc<CryptoProvider>,
    /// Server side: the Endpoint ID the client's certificate must name
    /// (None: anything goes, a fault of the reference Agent).
    expect_id: Option<String>,
    /// Server side: the client's certificate must be within its validity
    /// period (false: a fault of the reference Agent).
    check_validity: bool,
}

impl NamedPeer {
    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ServerCertVerifier for NamedPeer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for NamedPeer {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.check_validity {
            let now = now.as_secs() as i64;
            match validity(end_entity) {
                Some((from, until)) if (from..=until).contains(&now) => {}
                Some((_, until)) => {
                    return Err(rustls::Error::InvalidCertificate(if now > until {
                        rustls::CertificateError::Expired
                    } else {
                        rustls::CertificateError::NotValidYet
                    }))
                }
                None => {
                    return Err(rustls::Error::General(
                        "the client certificate's validity period cannot be read".into(),
                    ))
                }
            }
        }
        let Some(want) = &self.expect_id else {
            return Ok(ClientCertVerified::assertion());
        };
        match certificate_endpoint_id(end_entity) {
            Some(named) if &named == want => Ok(ClientCertVerified::assertion()),
            named => Err(rustls::Error::General(format!(
                "the client certificate names {} but the Records come from '{want}' ({RULE_CERT_ID})",
                named.map_or("no Endpoint ID".into(), |n| format!("'{n}'"))
            ))),
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

/// The client's certificate, handed over only when the server asks (which
/// is how the client learns that it asked).
#[derive(Debug)]
struct AskedCertificate {
    key: Arc<CertifiedKey>,
    asked: Arc<Mutex<bool>>,
}

impl ResolvesClientCert for AskedCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        *self.asked.lock().unwrap_or_else(|p| p.into_inner()) = true;
        Some(self.key.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// How a server side treats its client (the reference Agent's faults).
#[derive(Debug, Clone, Default)]
pub struct ServerPolicy {
    /// Do not ask for the client's certificate (breaks mutual auth).
    pub no_client_certificate: bool,
    /// Accept a client certificate naming any Endpoint ID.
    pub any_client_id: bool,
    /// Accept a client certificate outside its validity period: what an
    /// Agent without absolute time does (R-MTP.2/3), and otherwise a fault.
    pub any_validity: bool,
}

impl PayloadTls {
    /// The originator's side; the first flight (ClientHello) is ready in
    /// `start`.
    pub fn client(me: &Identity, versions: Versions) -> Result<PayloadTls, String> {
        let provider = provider();
        let asked = Arc::new(Mutex::new(false));
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions.list())
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NamedPeer {
                provider: provider.clone(),
                expect_id: None,
                check_validity: false,
            }))
            .with_client_cert_resolver(Arc::new(AskedCertificate {
                key: me.certified(&provider)?,
                asked: asked.clone(),
            }));
        // Endpoint IDs are not host names: no SNI, no resumption.
        config.enable_sni = false;
        config.resumption = rustls::client::Resumption::disabled();
        // A renegotiation request (TP-469 3.6) is sent by hand, under the
        // session's own keys.
        config.enable_secret_extraction = true;
        let name = ServerName::try_from("usp-e2e.invalid").map_err(|e| e.to_string())?;
        let conn = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
        Ok(PayloadTls {
            engine: Engine::Rustls(Box::new(conn.into())),
            role: Role::Client,
            asked,
            failed: false,
            handshake_sent: Vec::new(),
        })
    }

    /// The answering side: `peer_id` is the Endpoint ID the client's
    /// certificate must name.
    pub fn server(
        me: &Identity,
        peer_id: &str,
        policy: &ServerPolicy,
    ) -> Result<PayloadTls, String> {
        let provider = provider();
        let verifier = Arc::new(NamedPeer {
            provider: provider.clone(),
            expect_id: (!policy.any_client_id).then(|| peer_id.to_string()),
            check_validity: !policy.any_validity,
        });
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(Versions::Any.list())
            .map_err(|e| e.to_string())?;
        let builder = if policy.no_client_certificate {
            builder.with_no_client_auth()
        } else {
            builder.with_client_cert_verifier(verifier)
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(me.key_pkcs8.clone()));
        let mut config = builder
            .with_single_cert(vec![CertificateDer::from(me.cert_der.clone())], key)
            .map_err(|e| format!("unusable certificate or key: {e}"))?;
        // No tickets: a context's session is never resumed.
        config.send_tls13_tickets = 0;
        let conn = ServerConnection::new(Arc::new(config)).map_err(|e| e.to_string())?;
        Ok(PayloadTls {
            engine: Engine::Rustls(Box::new(conn.into())),
            role: Role::Server,
            asked: Arc::new(Mutex::new(false)),
            failed: false,
            handshake_sent: Vec::new(),
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_handshaking(&self) -> bool {
        match &self.engine {
            Engine::Rustls(conn) => conn.is_handshaking(),
            Engine::ByHand(_) | Engine::Spent => false,
        }
    }

    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// TLS records waiting to go out (the client's first flight after
    /// `client`, alerts, close_notify).
    pub fn outgoing(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let Engine::Rustls(conn) = &mut self.engine else {
            return out;
        };
        let handshaking = conn.is_handshaking();
        while conn.wants_write() {
            match conn.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        // The flight that finishes the client's handshake is written while
        // rustls still counts it as handshaking.
        if handshaking && self.role == Role::Client {
            self.handshake_sent.extend_from_slice(&out);
        }
        out
    }

    /// Feeds one reassembled payload (TLS records).
    pub fn receive(&mut self, payload: &[u8]) -> Exchange {
        let mut ex = Exchange::default();
        if self.failed {
            ex.failure = Some(TlsFailure::Refused(
                "the TLS session had already failed".into(),
            ));
            return ex;
        }
        match &mut self.engine {
            Engine::Rustls(conn) => read_with_rustls(conn, payload, &mut ex),
            Engine::ByHand(hand) => hand.read(payload, &mut ex),
            Engine::Spent => {}
        }
        if ex.failure.is_some() {
            self.failed = true;
        }
        ex.outgoing = self.outgoing();
        ex
    }

    /// Encrypts one Msg into TLS records (one payload). None before the
    /// handshake is done or after a failure.
    pub fn seal(&mut self, msg: &[u8]) -> Option<Vec<u8>> {
        if self.failed || self.is_handshaking() {
            return None;
        }
        match &mut self.engine {
            Engine::Rustls(conn) => conn.writer().write_all(msg).ok()?,
            Engine::ByHand(hand) => {
                return Some(hand.tx.seal(tls12_records::APPLICATION_DATA, msg))
            }
            Engine::Spent => return None,
        }
        Some(self.outgoing())
    }

    /// Ends the session with a close_notify (the records to send); nothing
    /// is sealed or read after it.
    pub fn close(&mut self) -> Vec<u8> {
        if let Engine::Rustls(conn) = &mut self.engine {
            conn.send_close_notify();
        }
        let out = self.outgoing();
        self.failed = true;
        out
    }

    /// Client side, TLS 1.2, handshake done: asks the peer to renegotiate
    /// (TP-469 3.6), with a ClientHello encrypted in the session. rustls
    /// never sends one, so it hands its keys over and the session's records
    /// are run by hand from here on. Returns the records to send.
    pub fn renegotiate(&mut self) -> Result<Vec<u8>, String> {
        let peer = self.peer();
        let keys = self.mac_keys();
        let version = peer
            .version
            .clone()
            .unwrap_or_else(|| "no TLS version".into());
        let (Engine::Rustls(_), Role::Client, Some(keys), false, "TLSv1_2") =
            (&self.engine, self.role, keys, self.failed, version.as_str())
        else {
            return Err(format!(
                "only the client of an established TLS 1.2 session can ask to renegotiate (this session: {version}, {:?} side{}{})",
                self.role,
                if self.failed { ", failed" } else { "" },
                if matches!(self.engine, Engine::ByHand(_)) { ", already asked" } else { "" },
            ));
        };
        let Engine::Rustls(conn) = std::mem::replace(&mut self.engine, Engine::Spent) else {
            unreachable!("matched just above");
        };
        self.failed = true; // until the keys are out
        let secrets = conn
            .dangerous_extract_secrets()
            .map_err(|e| format!("rustls kept the session's keys: {e}"))?;
        let direction = |(seq, secrets): (u64, ConnectionTrafficSecrets)| match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => {
                Ok((key.as_ref().to_vec(), iv.as_ref().to_vec(), seq))
            }
            _ => Err("the session's cipher is not the spec's AES-128-GCM".to_string()),
        };
        let (tx_key, tx_iv, tx_seq) = direction(secrets.tx)?;
        let (rx_key, rx_iv, rx_seq) = direction(secrets.rx)?;
        let verify_data = tls12_records::client_finished(&self.handshake_sent, &tx_key, &tx_iv)?;
        let mut random = [0u8; 32];
        ::ring::rand::SecureRandom::fill(&::ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| "no random bytes for the ClientHello".to_string())?;
        let hello = tls12_records::renegotiation_client_hello(random, &verify_data);
        let mut hand = ByHand {
            tx: Direction::new(&tx_key, &tx_iv, tx_seq)?,
            rx: Direction::new(&rx_key, &rx_iv, rx_seq)?,
            keys,
            peer,
        };
        let out = hand.tx.seal(tls12_records::HANDSHAKE, &hello);
        self.engine = Engine::ByHand(Box::new(hand));
        self.failed = false;
        Ok(out)
    }

    /// The HMAC keys, once the handshake is done.
    pub fn mac_keys(&self) -> Option<MacKeys> {
        if self.failed {
            return None;
        }
        let conn = match &self.engine {
            Engine::Rustls(conn) if !conn.is_handshaking() => conn,
            Engine::ByHand(hand) => return Some(hand.keys.clone()),
            _ => return None,
        };
        let out = conn
            .export_keying_material([0u8; 64], EXPORTER_LABEL, Some(&[]))
            .ok()?;
        let mut keys = MacKeys {
            client: [0; 32],
            server: [0; 32],
        };
        keys.client.copy_from_slice(&out[..32]);
        keys.server.copy_from_slice(&out[32..]);
        Some(keys)
    }

    /// The key that HMACs the Records this side sends, and the one that
    /// checks the peer's.
    pub fn own_and_peer_keys(&self) -> Option<([u8; 32], [u8; 32])> {
        let k = self.mac_keys()?;
        Some(match self.role {
            Role::Client => (k.client, k.server),
            Role::Server => (k.server, k.client),
        })
    }

    /// What the handshake showed of the peer so far.
    pub fn peer(&self) -> PeerView {
        let conn = match &self.engine {
            Engine::Rustls(conn) => conn,
            Engine::ByHand(hand) => return hand.peer.clone(),
            Engine::Spent => return PeerView::default(),
        };
        PeerView {
            certificate_id: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| certificate_endpoint_id(c)),
            asked_for_certificate: *self.asked.lock().unwrap_or_else(|p| p.into_inner()),
            version: conn.protocol_version().map(|v| format!("{v:?}")),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite())),
        }
    }
}

fn read_with_rustls(conn: &mut Connection, payload: &[u8], ex: &mut Exchange) {
    let mut input = payload;
    while !input.is_empty() {
        match conn.read_tls(&mut input) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                ex.failure = Some(TlsFailure::Refused(e.to_string()));
                break;
            }
        }
        match conn.process_new_packets() {
            Ok(_) => drain_plaintext(conn, &mut ex.plaintext),
            Err(rustls::Error::AlertReceived(a)) => {
                ex.failure = Some(TlsFailure::AlertReceived(format!("{a:?}")));
                break;
            }
            Err(e) => {
                ex.failure = Some(TlsFailure::Refused(e.to_string()));
                break;
            }
        }
    }
}

fn drain_plaintext(conn: &mut Connection, into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => return,
            Ok(n) => into.extend_from_slice(&buf[..n]),
            // WouldBlock: nothing more decrypted yet.
            Err(_) => return,
        }
    }
}

impl ByHand {
    /// Decrypts the peer's records: application data becomes plaintext,
    /// the rest is reported; a fatal alert or close_notify ends the session.
    fn read(&mut self, payload: &[u8], ex: &mut Exchange) {
        let records = match self.rx.open(payload) {
            Ok(r) => r,
            Err(e) => {
                ex.failure = Some(TlsFailure::Refused(e));
                return;
            }
        };
        for record in records {
            if record.content_type == tls12_records::APPLICATION_DATA {
                ex.plaintext.extend_from_slice(&record.data);
                continue;
            }
            for control in Control::of(&record) {
                if let Control::Alert { fatal, description } = control {
                    if fatal || description == 0 {
                        ex.failure.get_or_insert(TlsFailure::AlertReceived(
                            tls12_records::alert_name(description).to_string(),
                        ));
                    }
                }
                ex.control.push(control);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(client_id: &str, server_expects: &str, versions: Versions) -> (PayloadTls, PayloadTls) {
        let c = PayloadTls::client(&Identity::self_signed(client_id).unwrap(), versions).unwrap();
        let s = PayloadTls::server(
            &Identity::self_signed("proto::agent").unwrap(),
            server_expects,
            &ServerPolicy::default(),
        )
        .unwrap();
        (c, s)
    }

    /// Runs flights back and forth until neither side has anything to say;
    /// returns the last failure seen.
    fn handshake(c: &mut PayloadTls, s: &mut PayloadTls) -> Option<TlsFailure> {
        let mut to_server = c.outgoing();
        for _ in 0..6 {
            if to_server.is_empty() {
                break;
            }
            let ex = s.receive(&to_server);
            if let Some(f) = ex.failure {
                c.receive(&ex.outgoing);
                return Some(f);
            }
            let back = c.receive(&ex.outgoing);
            if let Some(f) = back.failure {
                return Some(f);
            }
            to_server = back.outgoing;
        }
        None
    }

    #[test]
    fn both_versions_handshake_carry_a_msg_and_agree_on_mac_keys() {
        for v in [Versions::Tls13Only, Versions::Tls12Only] {
            let (mut c, mut s) = pair("proto::ctl", "proto::ctl", v);
            assert_eq!(handshake(&mut c, &mut s), None, "{v:?}");
            assert!(!c.is_handshaking() && !s.is_handshaking(), "{v:?}");
            assert_eq!(c.mac_keys(), s.mac_keys(), "{v:?}");
            assert_ne!(c.mac_keys().unwrap().client, c.mac_keys().unwrap().server);
            let sealed = c.seal(b"a Msg").unwrap();
            assert!(!sealed.windows(5).any(|w| w == b"a Msg"), "encrypted");
            assert_eq!(s.receive(&sealed).plaintext, b"a Msg");
            let back = s.seal(b"an answer").unwrap();
            assert_eq!(c.receive(&back).plaintext, b"an answer");
            let peer = c.peer();
            assert_eq!(peer.certificate_id.as_deref(), Some("proto::agent"));
            assert!(peer.asked_for_certificate);
            assert!(peer.cipher_suite.unwrap().contains("AES_128_GCM_SHA256"));
        }
    }

    #[test]
    fn a_renegotiation_request_is_refused_by_rustls_and_the_session_goes_on_by_hand() {
        let (mut c, mut s) = pair("proto::ctl", "proto::ctl", Versions::Tls12Only);
        assert_eq!(handshake(&mut c, &mut s), None);
        let keys = c.mac_keys();
        // Traffic before the request, so the sequence numbers are not 0.
        assert_eq!(s.receive(&c.seal(b"first").unwrap()).plaintext, b"first");
        assert_eq!(c.receive(&s.seal(b"answer").unwrap()).plaintext, b"answer");

        let request = c.renegotiate().unwrap();
        assert_eq!(
            tls12_records::first_content_type(&request),
            Some(tls12_records::HANDSHAKE)
        );
        let refusal = s.receive(&request);
        assert!(
            refusal.failure.is_none() && refusal.plaintext.is_empty(),
            "{refusal:?}"
        );
        let read = c.receive(&refusal.outgoing);
        assert_eq!(
            read.control,
            vec![Control::Alert {
                fatal: false,
                description: tls12_records::NO_RENEGOTIATION
            }]
        );
        assert!(read.failure.is_none());
        // The session goes on, records now sealed and read by hand.
        assert_eq!(c.mac_keys(), keys);
        assert_eq!(c.peer().certificate_id.as_deref(), Some("proto::agent"));
        assert_eq!(s.receive(&c.seal(b"a Get").unwrap()).plaintext, b"a Get");
        assert_eq!(
            c.receive(&s.seal(b"a GetResp").unwrap()).plaintext,
            b"a GetResp"
        );
        assert!(c.renegotiate().unwrap_err().contains("already asked"));
        // Ending the session is seen by hand too.
        let bye = c.receive(&s.close());
        assert_eq!(
            bye.control,
            vec![Control::Alert {
                fatal: false,
                description: 0
            }]
        );
        assert!(bye.failure.is_some());
    }

    #[test]
    fn only_a_tls_1_2_client_can_ask_to_renegotiate() {
        let (mut c, mut s) = pair("proto::ctl", "proto::ctl", Versions::Tls13Only);
        assert!(c.renegotiate().unwrap_err().contains("no TLS version"));
        assert_eq!(handshake(&mut c, &mut s), None);
        assert!(c.renegotiate().unwrap_err().contains("TLSv1_3"));
        assert!(s.renegotiate().is_err());
        // The refused request changed nothing.
        assert_eq!(s.receive(&c.seal(b"still").unwrap()).plaintext, b"still");
    }

    #[test]
    fn server_refuses_a_client_certificate_naming_another_endpoint() {
        let (mut c, mut s) = pair("proto::someone-else", "proto::ctl", Versions::Any);
        let failure = handshake(&mut c, &mut s);
        assert!(
            matches!(&failure, Some(TlsFailure::Refused(why)) if why.contains("someone-else")),
            "{failure:?}"
        );
        assert!(s.mac_keys().is_none());
    }

    #[test]
    fn the_policy_faults_skip_the_checks() {
        let mut c =
            PayloadTls::client(&Identity::self_signed("proto::x").unwrap(), Versions::Any).unwrap();
        let mut s = PayloadTls::server(
            &Identity::self_signed("proto::agent").unwrap(),
            "proto::ctl",
            &ServerPolicy {
                no_client_certificate: true,
                ..ServerPolicy::default()
            },
        )
        .unwrap();
        assert_eq!(handshake(&mut c, &mut s), None);
        assert!(!c.peer().asked_for_certificate);
    }

    #[test]
    fn nothing_is_sealed_before_the_handshake_and_garbage_fails_the_session() {
        let (mut c, mut s) = pair("proto::ctl", "proto::ctl", Versions::Any);
        assert!(c.seal(b"early").is_none());
        let ex = s.receive(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00");
        assert!(ex.failure.is_some());
        assert!(!ex.outgoing.is_empty(), "an alert goes back: {ex:?}");
        let _ = c.outgoing();
        let back = c.receive(&ex.outgoing);
        assert!(back.failure.is_some(), "{back:?}");
    }
}
