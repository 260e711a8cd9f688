//! Non-payload field integrity of a USP Record (spec E2E "Integrity",
//! R-E2E.29/30): the sender signs the fields outside the payload with the
//! private key of the certificate it puts in `sender_cert`, and the receiver
//! checks the signature and that the certificate names the Record's from_id
//! (R-SEC.0a): ECDSA P-256 with SHA-256 (ASN.1 DER) for PLAINTEXT and
//! before an in-payload TLS handshake completes, HMAC-SHA256 under the
//! exported TLS keys (`crate::usp::e2e::tls`) after it. No I/O.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::RecordRef;
use crate::usp::certificate::{certificate_endpoint_id, subject_public_key, USP_URN_PREFIX};
use crate::usp::e2e::tls::Identity;
use crate::usp::proto::record::{record::RecordType, Record, SessionContextRecord};

/// The rule a failed integrity check breaks.
pub const RULE: &str = "R-E2E.29/30 (mac_signature: ECDSA P-256 SHA-256 over the non-payload fields, by the key of sender_cert) and R-SEC.0a (the certificate names the sender's Endpoint ID)";

/// The fields a mac_signature covers, borrowed from a Record either form.
pub struct NonPayload<'a> {
    pub version: &'a str,
    pub to_id: &'a str,
    pub from_id: &'a str,
    pub payload_security: i32,
    pub sender_cert: &'a [u8],
    pub session: Option<&'a SessionContextRecord>,
}

impl<'a> From<&'a Record> for NonPayload<'a> {
    fn from(r: &'a Record) -> Self {
        NonPayload {
            version: &r.version,
            to_id: &r.to_id,
            from_id: &r.from_id,
            payload_security: r.payload_security,
            sender_cert: &r.sender_cert,
            session: match &r.record_type {
                Some(RecordType::SessionContext(sc)) => Some(sc),
                _ => None,
            },
        }
    }
}

impl<'a> From<&'a RecordRef<'_>> for NonPayload<'a> {
    fn from(r: &'a RecordRef<'_>) -> Self {
        NonPayload {
            version: &r.version,
            to_id: &r.to_id,
            from_id: &r.from_id,
            payload_security: r.payload_security,
            sender_cert: &r.sender_cert,
            session: r.session_context(),
        }
    }
}

impl NonPayload<'_> {
    /// The bytes signed: the Record's fields except mac_signature (and the
    /// record_type), then the SessionContextRecord's fields except its
    /// payload, in field-number order; strings as UTF-8, enums as 4 bytes
    /// and uint64 as 8 bytes big-endian, bytes as they are.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.sender_cert.len());
        out.extend_from_slice(self.version.as_bytes());
        out.extend_from_slice(self.to_id.as_bytes());
        out.extend_from_slice(self.from_id.as_bytes());
        out.extend_from_slice(&(self.payload_security as u32).to_be_bytes());
        out.extend_from_slice(self.sender_cert);
        if let Some(sc) = self.session {
            for id in [
                sc.session_id,
                sc.sequence_id,
                sc.expected_id,
                sc.retransmit_id,
            ] {
                out.extend_from_slice(&id.to_be_bytes());
            }
            out.extend_from_slice(&(sc.payload_sar_state as u32).to_be_bytes());
            out.extend_from_slice(&(sc.payloadrec_sar_state as u32).to_be_bytes());
        }
        out
    }
}

/// Why a Record's mac_signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrityError {
    /// A mac_signature but no sender_cert to check it with.
    NoCertificate,
    /// sender_cert is not a PEM (or DER) X.509 certificate we can read.
    UnreadableCertificate,
    /// The certificate names another Endpoint ID (or none).
    CertificateNamesAnother {
        certificate: Option<String>,
        from_id: String,
    },
    /// The signature does not verify with the certificate's key.
    BadSignature,
    /// The HMAC does not verify with the sender's exported TLS key.
    BadHmac,
}

impl fmt::Display for IntegrityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntegrityError::NoCertificate => {
                write!(f, "a mac_signature without a sender_cert to check it with")
            }
            IntegrityError::UnreadableCertificate => write!(
                f,
                "sender_cert is not an X.509 certificate (PEM) with a P-256 key"
            ),
            IntegrityError::CertificateNamesAnother {
                certificate: Some(c),
                from_id,
            } => write!(
                f,
                "sender_cert names '{c}', not the Record's from_id '{from_id}'"
            ),
            IntegrityError::CertificateNamesAnother {
                certificate: None,
                from_id,
            } => write!(
                f,
                "sender_cert names no Endpoint ID ({USP_URN_PREFIX}...); the Record's from_id is '{from_id}'"
            ),
            IntegrityError::BadSignature => write!(
                f,
                "the mac_signature does not verify over the non-payload fields with sender_cert's key"
            ),
            IntegrityError::BadHmac => write!(
                f,
                "the mac_signature is not the HMAC-SHA256 of the non-payload fields under the sender's exported TLS key"
            ),
        }
    }
}

/// The first certificate of `sender_cert` (a PEM chain, leaf first; DER is
/// taken too).
fn leaf_certificate(sender_cert: &[u8]) -> Option<Vec<u8>> {
    if sender_cert.starts_with(b"-----BEGIN") {
        return CertificateDer::pem_slice_iter(sender_cert)
            .next()?
            .ok()
            .map(|c| c.to_vec());
    }
    (!sender_cert.is_empty()).then(|| sender_cert.to_vec())
}

/// Checks a received Record's mac_signature (only call it when there is
/// one).
pub fn verify(rec: &NonPayload, mac_signature: &[u8]) -> Result<(), IntegrityError> {
    if rec.sender_cert.is_empty() {
        return Err(IntegrityError::NoCertificate);
    }
    let der = leaf_certificate(rec.sender_cert).ok_or(IntegrityError::UnreadableCertificate)?;
    let named = certificate_endpoint_id(&der);
    if named.as_deref() != Some(rec.from_id) {
        return Err(IntegrityError::CertificateNamesAnother {
            certificate: named,
            from_id: rec.from_id.to_string(),
        });
    }
    let (key, _) = subject_public_key(&der).ok_or(IntegrityError::UnreadableCertificate)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key)
        .verify(&rec.signed_bytes(), mac_signature)
        .map_err(|_| IntegrityError::BadSignature)
}

/// The rule an HMAC mac_signature follows (after an in-payload TLS
/// handshake).
pub const RULE_HMAC: &str = "R-E2E.29/30 (after the TLS handshake in the payload, mac_signature is HMAC-SHA256 over the non-payload fields with the sender's key exported under EXPORTER-BBF-USP-Record)";

/// The HMAC-SHA256 mac_signature of these fields under `key` (the sender's
/// half of the exported TLS keys).
pub fn hmac(fields: &NonPayload, key: &[u8; 32]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, &fields.signed_bytes())
        .as_ref()
        .to_vec()
}

/// Checks an HMAC mac_signature in constant time.
pub fn verify_hmac(fields: &NonPayload, mac: &[u8], key: &[u8; 32]) -> Result<(), IntegrityError> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::verify(&key, &fields.signed_bytes(), mac).map_err(|_| IntegrityError::BadHmac)
}

/// An endpoint's signing identity: a P-256 key and a self-signed
/// certificate naming its Endpoint ID.
pub struct Signer {
    key: EcdsaKeyPair,
    cert_pem: Vec<u8>,
    rng: SystemRandom,
}

impl fmt::Debug for Signer {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A new key and a self-signed certificate whose subjectAltName is
    /// `urn:bbf:usp:id:<endpoint_id>`.
    pub fn new(endpoint_id: &str) -> Result<Signer, String> {
        Signer::from_identity(&Identity::self_signed(endpoint_id)?)
    }

    /// Signs with the key of a TLS identity (its certificate in PEM in
    /// `sender_cert`), so a context's signatures and its in-payload TLS
    /// handshake show the same certificate.
    pub fn from_identity(id: &Identity) -> Result<Signer, String> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&id.cert_der);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        Signer::from_pkcs8(&id.key_pkcs8, pem.into_bytes())
    }

    /// A P-256 PKCS#8 private key and its certificate (PEM).
    pub fn from_pkcs8(pkcs8: &[u8], cert_pem: Vec<u8>) -> Result<Signer, String> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
            .map_err(|e| format!("not a P-256 private key: {e}"))?;
        Ok(Signer { key, cert_pem, rng })
    }

    pub fn cert_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// Puts the certificate in `sender_cert` and signs the non-payload
    /// fields into `mac_signature`.
    pub fn sign(&self, rec: &mut Record) {
        rec.sender_cert = self.cert_pem.clone();
        rec.mac_signature = self.signature(&NonPayload::from(&*rec));
    }

    /// The signature over these fields.
    pub fn signature(&self, fields: &NonPayload) -> Vec<u8> {
        self.key
            .sign(&self.rng, &fields.signed_bytes())
            .map(|s| s.as_ref().to_vec())
            // ring fails only when its random source does; a Record with
            // an empty signature is then caught by the receiver.
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::e2e;
    use crate::usp::record::{encode, parse};

    fn signed() -> (Signer, Record) {
        let s = Signer::new("proto::ctl").unwrap();
        let sc = SessionContextRecord {
            session_id: 7,
            sequence_id: 1,
            expected_id: 1,
            payload: vec![b"x".to_vec()],
            ..Default::default()
        };
        let mut rec = e2e::record("proto::ctl", "proto::agent", sc);
        s.sign(&mut rec);
        (s, rec)
    }

    #[test]
    fn an_hmac_verifies_under_its_key_only_and_covers_the_non_payload_fields() {
        let (_, mut rec) = signed();
        let key = [7u8; 32];
        rec.mac_signature = hmac(&NonPayload::from(&rec), &key);
        assert_eq!(rec.mac_signature.len(), 32);
        let mac = rec.mac_signature.clone();
        assert_eq!(verify_hmac(&NonPayload::from(&rec), &mac, &key), Ok(()));
        assert_eq!(
            verify_hmac(&NonPayload::from(&rec), &mac, &[8u8; 32]),
            Err(IntegrityError::BadHmac)
        );
        rec.to_id.push('x');
        assert_eq!(
            verify_hmac(&NonPayload::from(&rec), &mac, &key),
            Err(IntegrityError::BadHmac)
        );
    }

    #[test]
    fn a_signer_made_from_a_tls_identity_shows_that_certificate() {
        let id = Identity::self_signed("proto::ctl").unwrap();
        let s = Signer::from_identity(&id).unwrap();
        let (_, mut rec) = signed();
        s.sign(&mut rec);
        assert_eq!(
            leaf_certificate(&rec.sender_cert),
            Some(id.cert_der.clone())
        );
        assert_eq!(verify(&NonPayload::from(&rec), &rec.mac_signature), Ok(()));
    }

    #[test]
    fn a_signed_record_verifies_in_both_forms() {
        let (_, rec) = signed();
        assert!(!rec.mac_signature.is_empty());
        assert_eq!(verify(&NonPayload::from(&rec), &rec.mac_signature), Ok(()));
        let bytes = encode(&rec);
        let parsed = parse(&bytes, None).unwrap();
        assert_eq!(
            verify(&NonPayload::from(&parsed), &parsed.mac_signature),
            Ok(())
        );
    }

    #[test]
    fn every_non_payload_field_is_covered_and_the_payload_is_not() {
        let (_, rec) = signed();
        let mut changes: Vec<Box<dyn Fn(&mut Record)>> = vec![
            Box::new(|r| r.version = "1.3".into()),
            Box::new(|r| r.to_id = "proto::other".into()),
            Box::new(|r| r.payload_security = 1),
        ];
        let in_session: [fn(&mut SessionContextRecord); 6] = [
            |sc| sc.session_id += 1,
            |sc| sc.sequence_id += 1,
            |sc| sc.expected_id += 1,
            |sc| sc.retransmit_id += 1,
            |sc| sc.payload_sar_state = 1,
            |sc| sc.payloadrec_sar_state = 1,
        ];
        for change in in_session {
            changes.push(Box::new(move |r| {
                if let Some(RecordType::SessionContext(sc)) = &mut r.record_type {
                    change(sc)
                }
            }));
        }
        for (i, change) in changes.iter().enumerate() {
            let mut r = rec.clone();
            change(&mut r);
            assert_eq!(
                verify(&NonPayload::from(&r), &r.mac_signature),
                Err(IntegrityError::BadSignature),
                "change {i}"
            );
        }
        let mut r = rec.clone();
        if let Some(RecordType::SessionContext(sc)) = &mut r.record_type {
            sc.payload = vec![b"y".to_vec()];
        }
        assert_eq!(verify(&NonPayload::from(&r), &r.mac_signature), Ok(()));
    }

    #[test]
    fn the_certificate_must_name_the_sender_and_be_there() {
        let (_, rec) = signed();
        let mut r = rec.clone();
        r.from_id = "proto::impostor".into();
        assert!(matches!(
            verify(&NonPayload::from(&r), &r.mac_signature),
            Err(IntegrityError::CertificateNamesAnother { certificate: Some(c), .. }) if c == "proto::ctl"
        ));
        let mut r = rec.clone();
        r.sender_cert.clear();
        assert_eq!(
            verify(&NonPayload::from(&r), &r.mac_signature),
            Err(IntegrityError::NoCertificate)
        );
        let mut r = rec.clone();
        r.sender_cert = b"-----BEGIN CERTIFICATE-----\nnot base64\n".to_vec();
        assert_eq!(
            verify(&NonPayload::from(&r), &r.mac_signature),
            Err(IntegrityError::UnreadableCertificate)
        );
        // Another endpoint's key under this endpoint's certificate.
        let other = Signer::new("proto::ctl").unwrap();
        let mut r = rec.clone();
        r.mac_signature = other.signature(&NonPayload::from(&r));
        assert_eq!(
            verify(&NonPayload::from(&r), &r.mac_signature),
            Err(IntegrityError::BadSignature)
        );
    }

    #[test]
    fn signed_bytes_follow_the_field_order() {
        let sc = SessionContextRecord {
            session_id: 2,
            sequence_id: 3,
            expected_id: 4,
            retransmit_id: 5,
            payload_sar_state: 1,
            payloadrec_sar_state: 3,
            payload: vec![b"payload".to_vec()],
        };
        let mut rec = e2e::record("b", "a", sc);
        rec.version = "1.4".into();
        rec.sender_cert = b"C".to_vec();
        let mut want = b"1.4ab".to_vec();
        want.extend([0, 0, 0, 0]);
        want.extend(b"C");
        for n in [2u64, 3, 4, 5] {
            want.extend(n.to_be_bytes());
        }
        want.extend([0, 0, 0, 1, 0, 0, 0, 3]);
        assert_eq!(NonPayload::from(&rec).signed_bytes(), want);
    }
}
