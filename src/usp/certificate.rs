//! Reads what a certificate vouches for: the Endpoint ID in the
//! subjectAltName uniformResourceIdentifier `urn:bbf:usp:id:<EID>` (spec
//! security section, R-SEC.0a/R-SEC.10a) and the subject's public key (to
//! check a Record's mac_signature). A small DER walk over the few structures
//! on the way (Certificate → TBSCertificate → extensions / subjectPublicKeyInfo),
//! so no ASN.1 crate is needed; anything it does not understand yields nothing.

/// The URN prefix a USP Endpoint ID carries in a certificate (spec 4.1).
pub const USP_URN_PREFIX: &str = "urn:bbf:usp:id:";

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_OCTET_STRING: u8 = 0x04;
/// `[3] EXPLICIT Extensions` inside TBSCertificate.
const TAG_EXTENSIONS: u8 = 0xA3;
/// GeneralName `[6] IMPLICIT IA5String` (uniformResourceIdentifier).
const TAG_URI: u8 = 0x86;
/// id-ce-subjectAltName, 2.5.29.17, as DER OID content bytes.
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x11];

/// One TLV: its tag, its content, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    // Multi-byte tag numbers never occur on the path we walk.
    if tag & 0x1F == 0x1F {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        // DER lengths in certificates fit in 4 bytes; 0x80 (indefinite) is BER only.
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The children of a constructed value, in order; stops at the first
/// malformed one.
fn children(mut content: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (tag, value, rest) = tlv(content)?;
        content = rest;
        Some((tag, value))
    })
}

/// Every URI in the certificate's subjectAltName extension.
pub fn san_uris(cert_der: &[u8]) -> Vec<String> {
    let Some((TAG_SEQUENCE, cert, _)) = tlv(cert_der) else {
        return Vec::new();
    };
    let Some((TAG_SEQUENCE, tbs)) = children(cert).next() else {
        return Vec::new();
    };
    let Some((_, explicit)) = children(tbs).find(|(tag, _)| *tag == TAG_EXTENSIONS) else {
        return Vec::new();
    };
    let Some((TAG_SEQUENCE, extensions)) = children(explicit).next() else {
        return Vec::new();
    };
    let mut uris = Vec::new();
    for (tag, extension) in children(extensions) {
        if tag != TAG_SEQUENCE {
            continue;
        }
        let mut parts = children(extension);
        if parts.next() != Some((TAG_OID, OID_SUBJECT_ALT_NAME)) {
            continue;
        }
        // An optional `critical` BOOLEAN may come before the OCTET STRING.
        let Some((_, value)) = parts.find(|(tag, _)| *tag == TAG_OCTET_STRING) else {
            continue;
        };
        let Some((TAG_SEQUENCE, names, _)) = tlv(value) else {
            continue;
        };
        uris.extend(
            children(names)
                .filter(|(tag, _)| *tag == TAG_URI)
                .filter_map(|(_, v)| std::str::from_utf8(v).ok())
                .map(str::to_string),
        );
    }
    uris
}

/// id-at-commonName, 2.5.4.3, as DER OID content bytes.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const TAG_SET: u8 = 0x31;
/// TBSCertificate's optional `[0] EXPLICIT Version`.
const TAG_VERSION: u8 = 0xA0;

/// TBSCertificate's fields after the optional version: serial, signature,
/// issuer, validity, subject, subjectPublicKeyInfo, ...
fn tbs_fields(cert_der: &[u8]) -> Option<impl Iterator<Item = (u8, &[u8])>> {
    let (TAG_SEQUENCE, cert, _) = tlv(cert_der)? else {
        return None;
    };
    let (TAG_SEQUENCE, tbs) = children(cert).next()? else {
        return None;
    };
    let mut fields = children(tbs).peekable();
    if fields.peek().is_some_and(|(tag, _)| *tag == TAG_VERSION) {
        fields.next();
    }
    Some(fields)
}

/// The subject's commonName, for reports: TBSCertificate is
/// [version] serial signature issuer validity subject ...; the subject is a
/// SEQUENCE of SETs of (OID, value). Any string type is read as UTF-8.
pub fn subject_common_name(cert_der: &[u8]) -> Option<String> {
    let mut fields = tbs_fields(cert_der)?;
    // serial, signature, issuer, validity, then the subject.
    let (TAG_SEQUENCE, subject) = fields.nth(4)? else {
        return None;
    };
    children(subject)
        .filter(|(tag, _)| *tag == TAG_SET)
        .flat_map(|(_, set)| children(set))
        .filter(|(tag, _)| *tag == TAG_SEQUENCE)
        .find_map(|(_, attribute)| {
            let mut parts = children(attribute);
            (parts.next()? == (TAG_OID, OID_COMMON_NAME))
                .then(|| parts.next())
                .flatten()
                .and_then(|(_, value)| std::str::from_utf8(value).ok().map(str::to_string))
        })
}

const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;

/// The certificate's validity period, notBefore and notAfter as seconds
/// since the Unix epoch (RFC 5280 4.1.2.5: UTCTime YYMMDDHHMMSSZ, years
/// 50-99 meaning 19xx, or GeneralizedTime YYYYMMDDHHMMSSZ).
pub fn validity(cert_der: &[u8]) -> Option<(i64, i64)> {
    let mut fields = tbs_fields(cert_der)?;
    // serial, signature, issuer, then the validity.
    let (TAG_SEQUENCE, validity) = fields.nth(3)? else {
        return None;
    };
    let mut times = children(validity).map(|(tag, value)| time_of(tag, value));
    Some((times.next()??, times.next()??))
}

/// An X.509 Time as seconds since the Unix epoch.
fn time_of(tag: u8, value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        TAG_UTC_TIME => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        TAG_GENERALIZED_TIME => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| rest[i..i + 2].parse::<i64>().ok();
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

const TAG_BIT_STRING: u8 = 0x03;

/// The subject's public key as it stands in subjectPublicKeyInfo's BIT
/// STRING (for an EC key the SEC1 point, what ring verifies with), and the
/// key algorithm's OID content bytes.
pub fn subject_public_key(cert_der: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut fields = tbs_fields(cert_der)?;
    // serial, signature, issuer, validity, subject, then the key.
    let (TAG_SEQUENCE, spki) = fields.nth(5)? else {
        return None;
    };
    let mut parts = children(spki);
    let (TAG_SEQUENCE, algorithm) = parts.next()? else {
        return None;
    };
    let (TAG_OID, oid) = children(algorithm).next()? else {
        return None;
    };
    // The first content byte counts the unused bits: 0 for a key.
    let (TAG_BIT_STRING, bits) = parts.next()? else {
        return None;
    };
    match bits.split_first()? {
        (0, key) => Some((key, oid)),
        _ => None,
    }
}

/// The USP Endpoint ID the certificate names, if any: the first SAN URI
/// starting with `urn:bbf:usp:id:` (the prefix is case-insensitive, as URN
/// namespace identifiers are).
pub fn certificate_endpoint_id(cert_der: &[u8]) -> Option<String> {
    san_uris(cert_der).into_iter().find_map(|uri| {
        let head = uri.get(..USP_URN_PREFIX.len())?;
        if !head.eq_ignore_ascii_case(USP_URN_PREFIX) {
            return None;
        }
        let eid = &uri[USP_URN_PREFIX.len()..];
        (!eid.is_empty()).then(|| eid.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair, SanType};

    #[test]
    fn the_validity_period_is_read_in_both_time_forms() {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2060, 3, 1);
        let der = params
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap()
            .der()
            .to_vec();
        // 2020-01-01 (UTCTime) and 2060-03-01 (GeneralizedTime, from 2050 on).
        assert_eq!(validity(&der), Some((1_577_836_800, 2_845_324_800)));
        assert_eq!(time_of(TAG_UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(time_of(TAG_UTC_TIME, b"700101000000"), None);
        assert_eq!(validity(b"\x30\x00"), None);
    }

    fn cert_with(sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.subject_alt_names.extend(sans);
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn uri(s: &str) -> SanType {
        SanType::URI(s.try_into().unwrap())
    }

    #[test]
    fn finds_the_usp_urn_among_other_names() {
        let der = cert_with(vec![
            uri("https://example.com/x"),
            uri("urn:bbf:usp:id:oui:00256D:my-unique-bbf-id-42"),
        ]);
        assert_eq!(san_uris(&der).len(), 2);
        assert_eq!(
            certificate_endpoint_id(&der).as_deref(),
            Some("oui:00256D:my-unique-bbf-id-42")
        );
    }

    #[test]
    fn no_urn_means_no_endpoint_id() {
        let der = cert_with(vec![uri("https://example.com/x")]);
        assert_eq!(certificate_endpoint_id(&der), None);
        // Only a DNS name: no URI at all.
        assert!(san_uris(&cert_with(vec![])).is_empty());
        assert_eq!(
            certificate_endpoint_id(&cert_with(vec![uri("urn:bbf:usp:id:")])),
            None
        );
    }

    #[test]
    fn reads_the_subject_public_key() {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        let (point, oid) = subject_public_key(&der).expect("a key");
        // rcgen's default key: ECDSA P-256, id-ecPublicKey (1.2.840.10045.2.1).
        assert_eq!(point, key.public_key_raw());
        assert_eq!(oid, &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]);
        for cut in [0, 3, der.len() / 2] {
            assert_eq!(subject_public_key(&der[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn prefix_is_case_insensitive() {
        let der = cert_with(vec![uri("URN:BBF:USP:ID:proto::x")]);
        assert_eq!(certificate_endpoint_id(&der).as_deref(), Some("proto::x"));
    }

    #[test]
    fn truncated_or_garbage_input_yields_nothing() {
        let der = cert_with(vec![uri("urn:bbf:usp:id:proto::x")]);
        for cut in [0, 1, 5, der.len() / 2, der.len() - 1] {
            // Truncation must never panic; the outer length no longer fits.
            assert_eq!(certificate_endpoint_id(&der[..cut]), None, "cut at {cut}");
        }
        assert_eq!(certificate_endpoint_id(b"\x30\x84\xff\xff\xff\xff"), None);
        assert_eq!(certificate_endpoint_id(b"\x1f\x01\x00"), None);
    }
}
