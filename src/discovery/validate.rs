//! What a USP Agent's DNS-SD advertisement must carry, and the target file a
//! valid WebSocket advertisement becomes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::usp::endpoint_id;

/// One resolved advertisement: PTR -> SRV (host, port) + TXT, with the
/// addresses of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    pub service_type: String,
    /// The DNS-SD instance name, unescaped: it must be the Endpoint ID (R-DIS.8).
    pub instance: String,
    pub host: String,
    pub port: u16,
    pub addresses: Vec<IpAddr>,
    /// TXT keys; `None` is a boolean key present without a value.
    pub txt: BTreeMap<String, Option<String>>,
    /// Whether a TLS handshake on the port succeeded, when it was tried.
    pub tls_observed: Option<bool>,
}

/// One thing wrong with an advertisement, with the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub rule: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.rule)
    }
}

/// Every problem of an Agent advertisement (empty = valid).
pub fn validate(ad: &Advertisement) -> Vec<Problem> {
    let mut problems = Vec::new();
    instance_is_endpoint_id(ad, "Agent", &mut problems);
    // R-DIS.9/10: an Agent's TXT record carries `path` and `name`.
    for (key, rule) in [("path", "R-DIS.9"), ("name", "R-DIS.10")] {
        required_key(ad, key, rule, &mut problems);
    }
    encrypt_and_port(ad, &mut problems);
    problems
}

/// Every problem of a Controller advertisement (empty = valid): the
/// instance name is its Endpoint ID (R-DIS.8), the TXT record carries
/// `path` (R-DIS.11; no `name` is asked of a Controller), `encrypt` agrees
/// with the port (R-DIS.11a).
pub fn validate_controller(ad: &Advertisement) -> Vec<Problem> {
    let mut problems = Vec::new();
    instance_is_endpoint_id(ad, "Controller", &mut problems);
    required_key(ad, "path", "R-DIS.11", &mut problems);
    encrypt_and_port(ad, &mut problems);
    problems
}

/// The rules of whichever kind of service `ad` is (`_usp-ctr-*` or an Agent's).
pub fn validate_any(ad: &Advertisement) -> Vec<Problem> {
    if super::is_controller_service(&ad.service_type) {
        validate_controller(ad)
    } else {
        validate(ad)
    }
}

/// R-DIS.8: the DNS-SD instance name is the endpoint's Endpoint ID.
fn instance_is_endpoint_id(ad: &Advertisement, role: &str, problems: &mut Vec<Problem>) {
    if let Err(e) = endpoint_id::validate(&ad.instance) {
        problems.push(Problem {
            rule: "R-DIS.8",
            detail: format!(
                "the instance name {:?} must be the {role}'s Endpoint ID: {e}",
                ad.instance
            ),
        });
    }
}

fn required_key(ad: &Advertisement, key: &str, rule: &'static str, problems: &mut Vec<Problem>) {
    match ad.txt.get(key) {
        None => problems.push(Problem {
            rule,
            detail: format!("the TXT record has no `{key}` key"),
        }),
        Some(None) => problems.push(Problem {
            rule,
            detail: format!("the TXT key `{key}` has no value"),
        }),
        Some(Some(_)) => {}
    }
}

/// R-DIS.11a (`encrypt` is a value-less boolean key, and the port agrees
/// with it) and an SRV record that names a port.
fn encrypt_and_port(ad: &Advertisement, problems: &mut Vec<Problem>) {
    if let Some(Some(v)) = ad.txt.get("encrypt") {
        problems.push(Problem {
            rule: "R-DIS.11a",
            detail: format!("`encrypt` is a boolean key without a value, got `encrypt={v}`"),
        });
    }
    let encrypt = ad.txt.contains_key("encrypt");
    match ad.tls_observed {
        Some(false) if encrypt => problems.push(Problem {
            rule: "R-DIS.11a",
            detail: "`encrypt` is advertised but the port did not complete a TLS handshake".into(),
        }),
        Some(true) if !encrypt => problems.push(Problem {
            rule: "R-DIS.11a",
            detail: "the port speaks TLS but `encrypt` is not advertised".into(),
        }),
        _ => {}
    }
    if ad.port == 0 {
        problems.push(Problem {
            rule: "RFC 6763",
            detail: "the SRV record names port 0".into(),
        });
    }
}

/// The target file (YAML, as `plugfest run --target` reads it) for a
/// WebSocket Agent advertisement: the harness dials the advertised host and
/// port with the TXT `path` (R-WS.3). None for other MTPs, which need a
/// broker's details that DNS-SD does not carry in full.
pub fn target_file(ad: &Advertisement) -> Option<String> {
    if ad.service_type != super::WS_AGENT_SERVICE {
        return None;
    }
    let url = ws_url(ad)?;
    let name = ad.txt.get("name").cloned().flatten().unwrap_or_default();
    Some(format!(
        "# Written by `plugfest discover` from a DNS-SD advertisement.\nname: {}\nagent_endpoint_id: {}\nmtp: websocket\nwebsocket:\n  role: client\n  url: {url}\n",
        yaml_string(&format!("{name} ({})", ad.instance)),
        yaml_string(&ad.instance),
    ))
}

/// Where a Controller's WebSocket advertisement says to connect, or the
/// problem that stops an Agent from using it: a Controller's TXT record must
/// carry `path` (R-DIS.11).
pub fn controller_url(ad: &Advertisement) -> Result<String, Problem> {
    if !matches!(ad.txt.get("path"), Some(Some(_))) {
        return Err(Problem {
            rule: "R-DIS.11",
            detail: format!(
                "the Controller's TXT record for {} has no `path` value",
                ad.instance
            ),
        });
    }
    ws_url(ad).ok_or_else(|| Problem {
        rule: "RFC 6763",
        detail: format!("the SRV target of {} resolved to no address", ad.instance),
    })
}

/// `ws[s]://host:port/path` of a WebSocket advertisement: `wss` when the
/// `encrypt` key is there (R-DIS.11a), an IPv4 address first (discovery runs
/// on loopback), the TXT `path` as the resource (R-WS.3).
fn ws_url(ad: &Advertisement) -> Option<String> {
    let path = ad.txt.get("path").cloned().flatten()?;
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    let scheme = if ad.txt.contains_key("encrypt") {
        "wss"
    } else {
        "ws"
    };
    let addr = ad
        .addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or(ad.addresses.first())?;
    let host = match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    };
    Some(format!("{scheme}://{host}:{}{path}", ad.port))
}

/// A double-quoted YAML scalar (JSON strings are valid YAML).
fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
