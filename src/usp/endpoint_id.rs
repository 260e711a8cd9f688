//! Endpoint ID syntax: `authority-scheme ":" [authority-id] ":" instance-id`
//! (TR-369 architecture, R-ARC.2a/5/6). Pure: the harness runs every Endpoint
//! ID it meets (a Record's from_id, a Connect Record, a WebSocket `eid`, a
//! certificate SAN, a DNS-SD instance name) through [`validate`].

use std::fmt;

/// The prefix an Endpoint ID carries inside a certificate's subjectAltName URI
/// (R-SEC.0a) and nowhere else (Records carry the bare form).
pub const URN_PREFIX: &str = "urn:bbf:usp:id:";

/// R-ARC.6: an instance-id is at most 50 characters.
pub const INSTANCE_ID_MAX: usize = 50;

/// The authority schemes of the R-ARC.2a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Oui,
    Cid,
    Pen,
    SelfGenerated,
    User,
    Os,
    Ops,
    Uuid,
    Imei,
    Proto,
    Doc,
    Fqdn,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Scheme> {
        Some(match s {
            "oui" => Scheme::Oui,
            "cid" => Scheme::Cid,
            "pen" => Scheme::Pen,
            "self" => Scheme::SelfGenerated,
            "user" => Scheme::User,
            "os" => Scheme::Os,
            "ops" => Scheme::Ops,
            "uuid" => Scheme::Uuid,
            "imei" => Scheme::Imei,
            "proto" => Scheme::Proto,
            "doc" => Scheme::Doc,
            "fqdn" => Scheme::Fqdn,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Oui => "oui",
            Scheme::Cid => "cid",
            Scheme::Pen => "pen",
            Scheme::SelfGenerated => "self",
            Scheme::User => "user",
            Scheme::Os => "os",
            Scheme::Ops => "ops",
            Scheme::Uuid => "uuid",
            Scheme::Imei => "imei",
            Scheme::Proto => "proto",
            Scheme::Doc => "doc",
            Scheme::Fqdn => "fqdn",
        }
    }
}

/// A well-formed Endpoint ID, split into its three parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointId<'a> {
    pub scheme: Scheme,
    pub authority_id: &'a str,
    pub instance_id: &'a str,
}

/// Why an Endpoint ID is malformed; each names the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointIdError {
    #[error("'{id}' is not of the form authority-scheme \":\" [authority-id] \":\" instance-id (R-ARC.2a)")]
    Shape { id: String },
    #[error("'{id}': unknown authority-scheme '{scheme}' (R-ARC.2a allows oui, cid, pen, self, user, os, ops, uuid, imei, proto, doc, fqdn)")]
    UnknownScheme { id: String, scheme: String },
    #[error("'{id}': authority-id '{authority}' breaks the '{scheme}' rule: {rule} (R-ARC.2a)")]
    Authority {
        id: String,
        scheme: &'static str,
        authority: String,
        rule: &'static str,
    },
    #[error("'{id}': instance-id is empty (R-ARC.2a)")]
    EmptyInstance { id: String },
    #[error("'{id}': instance-id has {len} characters, more than {INSTANCE_ID_MAX} (R-ARC.6)")]
    InstanceTooLong { id: String, len: usize },
    #[error("'{id}': instance-id character {ch:?} at offset {at} is not ALPHA / DIGIT / \"-\" / \".\" / \"_\" / %HH (R-ARC.5)")]
    InstanceCharset { id: String, ch: char, at: usize },
    #[error("'{id}': instance-id '{instance}' breaks the '{scheme}' rule: {rule} (R-ARC.2a)")]
    InstanceForm {
        id: String,
        scheme: &'static str,
        instance: String,
        rule: &'static str,
    },
}

impl EndpointIdError {
    /// The requirement id the error cites, for verdict lines and tests.
    pub fn rule(&self) -> &'static str {
        match self {
            EndpointIdError::InstanceTooLong { .. } => "R-ARC.6",
            EndpointIdError::InstanceCharset { .. } => "R-ARC.5",
            _ => "R-ARC.2a",
        }
    }
}

/// Validates a bare Endpoint ID (no `urn:bbf:usp:id:` prefix).
pub fn validate(id: &str) -> Result<EndpointId<'_>, EndpointIdError> {
    let mut parts = id.splitn(3, ':');
    let (Some(scheme), Some(authority_id), Some(instance_id)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(EndpointIdError::Shape { id: id.into() });
    };
    let scheme = Scheme::parse(scheme).ok_or_else(|| EndpointIdError::UnknownScheme {
        id: id.into(),
        scheme: scheme.into(),
    })?;
    check_authority(id, scheme, authority_id)?;
    check_instance_charset(id, instance_id)?;
    check_instance_form(id, scheme, instance_id)?;
    Ok(EndpointId {
        scheme,
        authority_id,
        instance_id,
    })
}

/// Validates the URN form a certificate carries (R-SEC.0a) and returns the
/// bare Endpoint ID inside it.
pub fn validate_urn(urn: &str) -> Result<EndpointId<'_>, EndpointIdError> {
    match urn.strip_prefix(URN_PREFIX) {
        Some(bare) => validate(bare),
        None => Err(EndpointIdError::Shape { id: urn.into() }),
    }
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')
}

fn is_hex(s: &str, lens: &[usize]) -> bool {
    lens.contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn check_authority(id: &str, scheme: Scheme, a: &str) -> Result<(), EndpointIdError> {
    let bad = |rule: &'static str| EndpointIdError::Authority {
        id: id.into(),
        scheme: scheme.name(),
        authority: a.into(),
        rule,
    };
    let short_unreserved = a.len() <= 6 && a.chars().all(is_unreserved);
    match scheme {
        Scheme::Oui if !is_hex(a, &[6, 7, 9]) => Err(bad(
            "an IEEE OUI / MA-M / MA-S block in 6, 7 or 9 hex characters",
        )),
        Scheme::Cid if !is_hex(a, &[6]) => Err(bad("an IEEE CID in 6 hex characters")),
        Scheme::Pen if a.is_empty() || !a.chars().all(|c| c.is_ascii_digit()) => {
            Err(bad("an IANA Private Enterprise Number in decimal"))
        }
        Scheme::SelfGenerated | Scheme::User | Scheme::Doc if !short_unreserved => {
            Err(bad("0 to 6 non-reserved characters"))
        }
        Scheme::Proto if !short_unreserved || a.contains('.') => {
            Err(bad("0 to 6 non-reserved characters other than \".\""))
        }
        Scheme::Os | Scheme::Ops | Scheme::Uuid | Scheme::Imei | Scheme::Fqdn if !a.is_empty() => {
            Err(bad("must be zero-length"))
        }
        _ => Ok(()),
    }
}

fn check_instance_charset(id: &str, inst: &str) -> Result<(), EndpointIdError> {
    if inst.is_empty() {
        return Err(EndpointIdError::EmptyInstance { id: id.into() });
    }
    let len = inst.chars().count();
    if len > INSTANCE_ID_MAX {
        return Err(EndpointIdError::InstanceTooLong { id: id.into(), len });
    }
    let bytes = inst.as_bytes();
    for (at, ch) in inst.char_indices() {
        let ok = is_unreserved(ch)
            || (ch == '%'
                && bytes.len() >= at + 3
                && bytes[at + 1].is_ascii_hexdigit()
                && bytes[at + 2].is_ascii_hexdigit());
        if !ok {
            return Err(EndpointIdError::InstanceCharset {
                id: id.into(),
                ch,
                at,
            });
        }
    }
    Ok(())
}

fn check_instance_form(id: &str, scheme: Scheme, inst: &str) -> Result<(), EndpointIdError> {
    let bad = |rule: &'static str| EndpointIdError::InstanceForm {
        id: id.into(),
        scheme: scheme.name(),
        instance: inst.into(),
        rule,
    };
    let fields: Vec<&str> = inst.split('-').collect();
    let oui_led = |n: usize| {
        fields.len() >= n && is_hex(fields[0], &[6]) && fields[1..].iter().all(|f| !f.is_empty())
    };
    match scheme {
        // TR-069 3.4.4 identity: <OUI> "-" <SerialNumber>
        Scheme::Os if !oui_led(2) => Err(bad("<OUI>-<SerialNumber> with a 6-hex-digit OUI")),
        Scheme::Ops if !oui_led(3) => Err(bad(
            "<OUI>-<ProductClass>-<SerialNumber> with a 6-hex-digit OUI",
        )),
        Scheme::Uuid if !is_uuid(inst) => Err(bad("an RFC 4122 UUID (8-4-4-4-12 hex digits)")),
        Scheme::Imei if !(inst.len() == 15 && inst.chars().all(|c| c.is_ascii_digit())) => {
            Err(bad("a 15-digit IMEI"))
        }
        Scheme::Fqdn if !is_fqdn(inst) => Err(bad("a fully qualified domain name")),
        _ => Ok(()),
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| is_hex(g, &[n]))
}

fn is_fqdn(s: &str) -> bool {
    let labels: Vec<&str> = s.trim_end_matches('.').split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl fmt::Display for EndpointId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.scheme.name(),
            self.authority_id,
            self.instance_id
        )
    }
}

#[cfg(test)]
#[path = "endpoint_id_tests.rs"]
mod tests;
