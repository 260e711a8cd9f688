//! The DHCP discovery steps (TP-469 8.1-8.3) as plain data, and their
//! load-time checks. The runner's side is `runner/dhcp_steps.rs`, the
//! server `discovery/dhcp/server.rs`.

use schemars::JsonSchema;
use serde::Deserialize;

pub const HELP: &str = "see test-cases/README.md, \"DHCP steps\"";

/// How long `expect_dhcp` waits when the step does not say: a rebooting
/// Agent asks for its lease within this.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
const MAX_TIMEOUT_MS: u64 = 600_000;

/// `dhcp_offer`: what the harness's DHCP server (`plugfest run --dhcp
/// IFACE`) puts in option 125 from now on, for a client whose option 124
/// names USP; it also forgets what it heard, so the next `expect_dhcp`
/// judges only what the Agent sends after this step. Skipped, with the
/// reason, on a run without `--dhcp`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DhcpOfferSpec {
    /// Sub-option 25, the Controller's URL; default: the harness's own
    /// WebSocket server as the Agent reaches it over the interface.
    #[serde(default)]
    pub controller_url: Option<String>,
    /// Instead of `controller_url`: the harness's own URL with this name as
    /// its host (TP-469 8.3), which the harness's DNS responder, named in
    /// option 6, answers with the interface's address.
    #[serde(default)]
    pub controller_host: Option<String>,
    /// Sub-option 26, the ProvisioningCode; none when not given.
    #[serde(default)]
    pub provisioning_code: Option<String>,
    /// Sub-option 27, USPNotifRetryMinimumWaitInterval (seconds).
    #[serde(default)]
    pub retry_min_wait: Option<u32>,
    /// Sub-option 28, USPNotifRetryIntervalMultiplier (per mille).
    #[serde(default)]
    pub retry_multiplier: Option<u32>,
    /// Sub-option 29, the Controller's Endpoint ID; default: the harness's.
    #[serde(default)]
    pub controller_endpoint_id: Option<String>,
    /// Send every value NUL-terminated (TP-469 8.2's "null terminated
    /// provisioning code"); the Agent must ignore the NUL. Default false.
    #[serde(default)]
    pub nul_terminated: bool,
}

/// `expect_dhcp`: the Agent asked for a lease since the last `dhcp_offer`
/// (TP-469 8.1), every DHCPDISCOVER and DHCPREQUEST it sent carrying option
/// 124 with enterprise 3561 and vendor-class-data "usp" (R-DIS.1). Waits
/// until a DHCPREQUEST was acknowledged or the timeout.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectDhcpSpec {
    /// How long to wait for the Agent's acknowledged DHCPREQUEST (default
    /// 30000 ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `expect_dns`: the Agent asked the harness's DNS responder for a name
/// since the last `dhcp_offer` (TP-469 8.3: a Controller URL with an FQDN
/// leads to a DNS query).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectDnsSpec {
    /// The name asked for; default: the `controller_host` of the last
    /// `dhcp_offer`.
    #[serde(default)]
    pub name: Option<String>,
    /// How long to wait for the question (default 30000 ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

impl ExpectDnsSpec {
    pub fn validate(&self) -> Result<(), String> {
        timeout_ok("expect_dns", self.timeout_ms)
    }
}

fn timeout_ok(step: &str, timeout_ms: Option<u64>) -> Result<(), String> {
    match timeout_ms {
        Some(0) => Err(format!("{step}: timeout_ms must be above 0")),
        Some(t) if t > MAX_TIMEOUT_MS => Err(format!("{step}: timeout_ms above {MAX_TIMEOUT_MS}")),
        _ => Ok(()),
    }
}

impl DhcpOfferSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.controller_url.is_some() && self.controller_host.is_some() {
            return Err("dhcp_offer: give `controller_url` or `controller_host`, not both".into());
        }
        if let Some(h) = &self.controller_host {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            if !h.split('.').all(label_ok) || !crate::discovery::dhcp::is_name(h) {
                return Err(format!(
                    "dhcp_offer: controller_host {h:?} is not a DNS name (dot-separated labels of letters, digits and '-')"
                ));
            }
        }
        for (what, value) in [
            ("controller_url", &self.controller_url),
            ("provisioning_code", &self.provisioning_code),
            ("controller_endpoint_id", &self.controller_endpoint_id),
        ] {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(format!(
                    "dhcp_offer: {what} holds a NUL; say `nul_terminated: true` instead"
                ));
            }
        }
        Ok(())
    }
}

impl ExpectDhcpSpec {
    pub fn validate(&self) -> Result<(), String> {
        timeout_ok("expect_dhcp", self.timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_inside_a_value_and_odd_timeouts_are_refused() {
        let mut o = DhcpOfferSpec {
            provisioning_code: Some("a\0".into()),
            ..Default::default()
        };
        assert!(o.validate().unwrap_err().contains("nul_terminated"));
        o.provisioning_code = Some("a".into());
        assert!(o.validate().is_ok());
        let mut e = ExpectDhcpSpec::default();
        assert!(e.validate().is_ok());
        e.timeout_ms = Some(0);
        assert!(e.validate().is_err());
        e.timeout_ms = Some(700_000);
        assert!(e.validate().is_err());
        let mut o = DhcpOfferSpec {
            controller_host: Some("controller.plugfest.test".into()),
            ..Default::default()
        };
        assert!(o.validate().is_ok());
        o.controller_url = Some("ws://x/".into());
        assert!(o.validate().unwrap_err().contains("not both"));
        o.controller_url = None;
        for bad in ["10.0.0.1", "a..b", "a b.test", ""] {
            o.controller_host = Some(bad.into());
            assert!(o.validate().is_err(), "{bad}");
        }
    }
}
