//! A throw-away PKI made in memory at run time (rcgen): one CA and leaf
//! certificates whose subjectAltName carries `urn:bbf:usp:id:<EID>`
//! (R-SEC.0a), valid for 127.0.0.1 and localhost. Used by `plugfest run
//! --tls` and the tests; nothing is written to disk unless a caller asks.

use std::net::{IpAddr, Ipv4Addr};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{Identity, TlsError};
use crate::mtp::tls::san::USP_URN_PREFIX;

/// A CA that can issue endpoint certificates.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
    cert_pem: String,
}

fn pki_error(e: rcgen::Error) -> TlsError {
    TlsError::Generate(e.to_string())
}

impl TestCa {
    pub fn new(name: &str) -> Result<TestCa, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(pki_error)?;
        let cert = params.self_signed(&key).map_err(pki_error)?;
        Ok(TestCa {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn cert(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A leaf certificate for `endpoint_id`, usable as TLS server and
    /// client certificate on loopback.
    pub fn issue(&self, endpoint_id: &str) -> Result<IssuedCert, TlsError> {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string()]).map_err(pki_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, endpoint_id);
        let urn = format!("{USP_URN_PREFIX}{endpoint_id}");
        params
            .subject_alt_names
            .push(SanType::URI(urn.as_str().try_into().map_err(pki_error)?));
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().map_err(pki_error)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(pki_error)?;
        Ok(IssuedCert {
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A leaf certificate and its private key, as DER and PEM.
pub struct IssuedCert {
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
    key_der: Vec<u8>,
    pub key_pem: String,
}

impl IssuedCert {
    pub fn identity(&self) -> Identity {
        Identity {
            chain: vec![self.cert.clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
        }
    }
}
