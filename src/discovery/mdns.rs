//! mDNS I/O through mdns-sd, on the loopback interface only: every
//! interface is disabled and only loopback enabled before anything is sent,
//! so no query or announcement leaves the machine. (mdns-sd joins the mDNS
//! group on the machine's interfaces when it starts; the tests run inside a
//! network namespace that has only `lo`.)

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo, TxtProperty};

use super::Advertisement;

#[derive(Debug, thiserror::Error)]
pub enum MdnsError {
    #[error("mDNS: {0}")]
    Daemon(#[from] mdns_sd::Error),
}

/// A daemon bound to loopback only.
fn loopback_daemon() -> Result<ServiceDaemon, MdnsError> {
    let daemon = ServiceDaemon::new()?;
    daemon.disable_interface(IfKind::All)?;
    daemon.enable_interface(IfKind::LoopbackV4)?;
    Ok(daemon)
}

/// Whether the loopback interface can carry multicast (`ip link show lo`
/// lists MULTICAST); without it nothing can be found.
pub fn loopback_multicast() -> Result<bool, String> {
    let flags = std::fs::read_to_string("/sys/class/net/lo/flags")
        .map_err(|e| format!("cannot read /sys/class/net/lo/flags: {e}"))?;
    let bits = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
        .map_err(|e| format!("unexpected lo flags {flags:?}: {e}"))?;
    // IFF_MULTICAST = 0x1000 (linux/if.h)
    Ok(bits & 0x1000 != 0)
}

/// Browses every Agent service type for `timeout` and returns what resolved.
pub fn browse(timeout: Duration) -> Result<Vec<Advertisement>, MdnsError> {
    browse_types(&super::AGENT_SERVICE_TYPES, timeout, |_| false)
}

/// Browses every Controller service type (`_usp-ctr-*`) for `timeout`.
pub fn browse_controllers(timeout: Duration) -> Result<Vec<Advertisement>, MdnsError> {
    browse_types(&super::CONTROLLER_SERVICE_TYPES, timeout, |_| false)
}

/// Looks up the WebSocket Controller whose instance name is `endpoint_id`
/// (R-DIS.7: an Agent that knows its Controller's Endpoint ID but not where
/// it is asks for its SRV and TXT records); `None` when it did not show
/// within `timeout`.
pub fn find_controller(
    endpoint_id: &str,
    timeout: Duration,
) -> Result<Option<Advertisement>, MdnsError> {
    let found = browse_types(&[super::WS_CONTROLLER_SERVICE], timeout, |ad| {
        ad.instance == endpoint_id
    })?;
    Ok(found.into_iter().find(|ad| ad.instance == endpoint_id))
}

/// The IPv4 address of a `.local.` host, asked with mDNS on loopback
/// (TP-469 8.4); `None` when nobody answered within `timeout`.
pub fn resolve_host(hostname: &str, timeout: Duration) -> Result<Option<IpAddr>, MdnsError> {
    use mdns_sd::HostnameResolutionEvent;
    let daemon = loopback_daemon()?;
    let host = format!("{}.", hostname.trim_end_matches('.'));
    let events = daemon.resolve_hostname(&host, Some(timeout.as_millis() as u64))?;
    let deadline = Instant::now() + timeout;
    let mut found = None;
    while found.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(HostnameResolutionEvent::AddressesFound(_, addrs)) => {
                found = addrs.iter().map(|a| a.to_ip_addr()).find(IpAddr::is_ipv4);
            }
            Ok(HostnameResolutionEvent::SearchTimeout(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let _ = daemon.shutdown();
    Ok(found)
}

/// Browses `types` until `timeout`, or until an advertisement satisfies
/// `enough` (called once per resolved advertisement, in arrival order), and
/// returns what resolved. A browse sends PTR queries: what resolves was an
/// answer to them (or an announcement heard meanwhile).
pub fn browse_types(
    types: &[&str],
    timeout: Duration,
    mut enough: impl FnMut(&Advertisement) -> bool,
) -> Result<Vec<Advertisement>, MdnsError> {
    let daemon = loopback_daemon()?;
    let receivers = types
        .iter()
        .map(|ty| daemon.browse(ty))
        .collect::<Result<Vec<_>, _>>()?;
    let deadline = Instant::now() + timeout;
    let mut found: BTreeMap<String, Advertisement> = BTreeMap::new();
    'browsing: while Instant::now() < deadline {
        let mut idle = true;
        for rx in &receivers {
            while let Ok(event) = rx.try_recv() {
                idle = false;
                if let ServiceEvent::ServiceResolved(s) = event {
                    let ad = Advertisement {
                        instance: instance_name(&s.fullname, &s.ty_domain),
                        service_type: s.ty_domain.clone(),
                        host: s.host.clone(),
                        port: s.port,
                        addresses: s.addresses.iter().map(|a| a.to_ip_addr()).collect(),
                        txt: s
                            .txt_properties
                            .iter()
                            .map(|p| {
                                let v = p.val().map(|b| String::from_utf8_lossy(b).into_owned());
                                (p.key().to_string(), v)
                            })
                            .collect(),
                        tls_observed: None,
                    };
                    let done = enough(&ad);
                    found.insert(s.fullname.clone(), ad);
                    if done {
                        break 'browsing;
                    }
                }
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = daemon.shutdown();
    Ok(found.into_values().collect())
}

/// The instance label of `fullname`, with DNS-SD escapes (`\.`, `\\`) undone.
fn instance_name(fullname: &str, ty_domain: &str) -> String {
    let label = fullname
        .strip_suffix(ty_domain)
        .map(|l| l.trim_end_matches('.'))
        .unwrap_or(fullname);
    let mut out = String::new();
    let mut chars = label.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A registered advertisement; dropping it stops the daemon (the record
/// simply expires for browsers).
pub struct Advertiser {
    daemon: ServiceDaemon,
    info: ServiceInfo,
}

impl Advertiser {
    /// Withdraws the records (goodbyes, TTL 0), as a rebooting device's
    /// stack does.
    pub fn withdraw(&self) {
        let _ = self.daemon.unregister(self.info.get_fullname());
    }

    /// Registers them again: mdns-sd probes the name, then announces the
    /// records unasked (RFC 6762 8.3).
    pub fn announce(&self) {
        let _ = self.daemon.register(self.info.clone());
    }
}

/// An Agent's advertisement that follows its reboots: withdrawn while it
/// is down, announced again once it is up (TP-469 8.5). `up` is the
/// Agent's up/down state (`AgentHost::up_state`).
pub fn follow_reboots(
    advertiser: Advertiser,
    mut up: tokio::sync::watch::Receiver<bool>,
) -> std::sync::Arc<Advertiser> {
    let shared = std::sync::Arc::new(advertiser);
    let weak = std::sync::Arc::downgrade(&shared);
    tokio::spawn(async move {
        while up.changed().await.is_ok() {
            let Some(advertiser) = weak.upgrade() else {
                return;
            };
            if *up.borrow_and_update() {
                advertiser.announce();
            } else {
                advertiser.withdraw();
            }
        }
    });
    shared
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

/// What the reference Agent (an `_usp-agt-*` service) or the harness as a
/// Controller (an `_usp-ctr-*` service) advertises for one MTP.
pub struct ServiceAdvert<'a> {
    pub service_type: &'a str,
    pub endpoint_id: &'a str,
    pub port: u16,
    /// TXT `path` (R-DIS.9); `None` leaves the key out (a fault).
    pub path: Option<&'a str>,
    /// TXT `name` (R-DIS.10, Agents only); `None` leaves the key out (for
    /// an Agent, a fault).
    pub name: Option<&'a str>,
    /// TXT `encrypt` (R-DIS.11a): the MTP requires encryption.
    pub encrypt: bool,
}

/// The host the harness's Controller advertisement names (its SRV
/// target), which mdns-sd then answers A queries for: an Agent configured
/// with `ws://plugfest-controller.local:PORT/PATH` resolves it (TP-469 8.4).
pub const CONTROLLER_HOST: &str = "plugfest-controller.local.";

/// Registers `advert` on loopback (127.0.0.1) under the instance name = its
/// Endpoint ID (R-DIS.8).
pub fn advertise(advert: &ServiceAdvert) -> Result<Advertiser, MdnsError> {
    let daemon = loopback_daemon()?;
    let mut txt: Vec<TxtProperty> = Vec::new();
    if let Some(p) = advert.path {
        txt.push(("path", p).into());
    }
    if let Some(n) = advert.name {
        txt.push(("name", n).into());
    }
    if advert.encrypt {
        txt.push("encrypt".into());
    }
    let info = ServiceInfo::new(
        advert.service_type,
        advert.endpoint_id,
        if advert.service_type.starts_with("_usp-ctr-") {
            CONTROLLER_HOST
        } else {
            "plugfest-agent.local."
        },
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        advert.port,
        txt,
    )?;
    daemon.register(info.clone())?;
    Ok(Advertiser { daemon, info })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_are_unescaped() {
        assert_eq!(
            instance_name(
                "proto::a\\.b._usp-agt-ws._tcp.local.",
                "_usp-agt-ws._tcp.local."
            ),
            "proto::a.b"
        );
    }
}
