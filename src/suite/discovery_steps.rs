//! The DNS-SD step (`discover`; TP-469 section 8) as plain data, and its
//! load-time checks. The runner's side is `runner/discovery_steps.rs`, the
//! mDNS I/O `discovery/mdns.rs` (loopback only).

use schemars::JsonSchema;
use serde::Deserialize;

pub const HELP: &str = "see test-cases/README.md, \"Discovery step\"";

/// How long a browse waits when the step does not say.
pub const DEFAULT_TIMEOUT_MS: u64 = 3_000;
/// Longest browse a step may ask for.
const MAX_TIMEOUT_MS: u64 = 60_000;

/// `discover`: browse DNS-SD (mDNS on the loopback interface only) for the
/// Agent under test and hold what it advertises to the discovery rules:
/// an advertisement whose instance name is the Agent's Endpoint ID
/// (R-DIS.8), TXT `path` and `name` (R-DIS.9/10), `encrypt` as the port's
/// TLS says (R-DIS.11a), the SRV port the one the Agent listens on when the
/// run knows it. Exactly one of `service` and `every_mtp`. The step is
/// skipped, with the reason, on a run without `--discovery` or where
/// loopback cannot carry multicast.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoverSpec {
    /// The Agent service to browse, e.g. `_usp-agt-ws._tcp` (the `.local.`
    /// domain may be left out).
    #[serde(default)]
    pub service: Option<String>,
    /// Instead of `service`: read the Agent's `Device.LocalAgent.MTP.{i}.`
    /// rows with a Get and expect one valid advertisement for the service
    /// of each enabled MTP (UDS has none; a row whose `EnableMDNS` is false
    /// is left out) (TP-469 8.6, metric 1).
    #[serde(default)]
    pub every_mtp: Option<bool>,
    /// Only check that the Agent answered the query (an advertisement named
    /// by its Endpoint ID resolved to SRV and TXT), not the TXT keys
    /// (TP-469 8.7). Default false.
    #[serde(default)]
    pub answered_only: bool,
    /// How long to browse (default 3000 ms); the browse ends sooner once
    /// every awaited advertisement resolved.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `expect_mdns_query`: since the case began, the Agent asked mDNS (on
/// loopback) about `name`, the `.local.` host of the Controller URL it was
/// configured with (TP-469 8.4). Skipped, with the reason, on a run without
/// `--advertise-controller` (the harness is then no mDNS Controller).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectMdnsQuerySpec {
    /// The host asked about; default `plugfest-controller.local` (the host
    /// the harness advertises itself on). The trailing dot may be left out.
    #[serde(default)]
    pub name: Option<String>,
    /// How long to wait for the question (default 3000 ms; the case's
    /// earlier steps, a reboot, usually saw it asked already).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl ExpectMdnsQuerySpec {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(n) = &self.name {
            if !n.trim_end_matches('.').ends_with(".local") {
                return Err(format!(
                    "expect_mdns_query: {n:?} is not a .local. name; mDNS resolves only those"
                ));
            }
        }
        match self.timeout_ms {
            Some(0) => Err("expect_mdns_query: timeout_ms must be above 0".into()),
            Some(t) if t > MAX_TIMEOUT_MS => Err(format!(
                "expect_mdns_query: timeout_ms above {MAX_TIMEOUT_MS}"
            )),
            _ => Ok(()),
        }
    }
}

/// `expect_mdns_announcement` (TP-469 8.5): since the case began (a reboot
/// step before it), the Agent multicast an mDNS response nobody asked for
/// announcing its `service` instance: SRV and TXT records (TTL above 0)
/// for the instance named by its Endpoint ID. Skipped, with the reason, on
/// a run without `--discovery`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectMdnsAnnouncementSpec {
    /// The Agent service, default `_usp-agt-ws._tcp` (the `.local.` domain
    /// may be left out).
    #[serde(default)]
    pub service: Option<String>,
    /// How long to wait for the announcement (default 3000 ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl ExpectMdnsAnnouncementSpec {
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = &self.service {
            match crate::discovery::full_service_type(s) {
                Some(t) if !crate::discovery::is_controller_service(t) => {}
                _ => {
                    return Err(format!(
                        "expect_mdns_announcement: {s} is not an Agent service type (_usp-agt-ws._tcp, ...)"
                    ))
                }
            }
        }
        match self.timeout_ms {
            Some(0) => Err("expect_mdns_announcement: timeout_ms must be above 0".into()),
            Some(t) if t > MAX_TIMEOUT_MS => Err(format!(
                "expect_mdns_announcement: timeout_ms above {MAX_TIMEOUT_MS}"
            )),
            _ => Ok(()),
        }
    }

    /// The full service type, `_usp-agt-ws._tcp.local.` by default.
    pub fn service_type(&self) -> &'static str {
        self.service
            .as_deref()
            .and_then(crate::discovery::full_service_type)
            .unwrap_or(crate::discovery::WS_AGENT_SERVICE)
    }
}

impl DiscoverSpec {
    /// What is wrong with the step as written.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.service, self.every_mtp) {
            (Some(_), Some(true)) => {
                return Err("discover: give `service` or `every_mtp: true`, not both".into())
            }
            (None, None | Some(false)) => {
                return Err("discover: give `service` (e.g. _usp-agt-ws._tcp) or `every_mtp: true`".into())
            }
            (Some(s), _) => match crate::discovery::full_service_type(s) {
                Some(t) if !crate::discovery::is_controller_service(t) => {}
                Some(_) => {
                    return Err(format!(
                        "discover: {s} is a Controller service; the step looks for the Agent under test (_usp-agt-*)"
                    ))
                }
                None => {
                    return Err(format!(
                        "discover: {s} is not a USP Agent service; use one of {}",
                        crate::discovery::AGENT_SERVICE_TYPES.join(", ")
                    ))
                }
            },
            (None, Some(true)) => {}
        }
        match self.timeout_ms {
            Some(0) => Err("discover: timeout_ms must be above 0".into()),
            Some(t) if t > MAX_TIMEOUT_MS => {
                Err(format!("discover: timeout_ms above {MAX_TIMEOUT_MS}"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(service: Option<&str>, every_mtp: Option<bool>) -> DiscoverSpec {
        DiscoverSpec {
            service: service.map(str::to_string),
            every_mtp,
            ..Default::default()
        }
    }

    #[test]
    fn exactly_one_known_agent_service_or_every_mtp() {
        assert!(spec(Some("_usp-agt-ws._tcp"), None).validate().is_ok());
        assert!(spec(Some("_usp-agt-coap._udp.local."), None)
            .validate()
            .is_ok());
        assert!(spec(None, Some(true)).validate().is_ok());
        assert!(spec(None, None).validate().is_err());
        assert!(spec(Some("_usp-agt-ws._tcp"), Some(true))
            .validate()
            .is_err());
        let e = spec(Some("_usp-ctr-ws._tcp"), None).validate().unwrap_err();
        assert!(e.contains("Controller service"), "{e}");
        assert!(spec(Some("_http._tcp"), None).validate().is_err());
        let mut s = spec(None, Some(true));
        s.timeout_ms = Some(0);
        assert!(s.validate().is_err());
        s.timeout_ms = Some(600_000);
        assert!(s.validate().is_err());
    }
}
