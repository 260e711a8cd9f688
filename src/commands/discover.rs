//! `plugfest discover`: browse DNS-SD for USP Agents (or, with
//! `--controllers`, USP Controllers) on the loopback interface, validate
//! each advertisement (R-DIS.8-11a), print a table, and optionally write a
//! target file for the first valid WebSocket Agent.

use std::process::ExitCode;
use std::time::Duration;

use super::{exit, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_PASSED};
use crate::cli::DiscoverArgs;
use crate::discovery::{self, mdns, Advertisement};

pub async fn discover(args: &DiscoverArgs) -> ExitCode {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 600.0) {
        eprintln!("--timeout must be a number of seconds in (0, 600]");
        return exit(EXIT_BAD_INPUT);
    }
    match mdns::loopback_multicast() {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("the loopback interface has no MULTICAST flag (`ip link show lo`), so mDNS cannot work on it; as root, in a network namespace: `ip link set lo multicast on`");
            return exit(EXIT_BAD_INPUT);
        }
        Err(e) => {
            eprintln!("cannot tell whether loopback carries multicast: {e}");
            return exit(EXIT_BAD_INPUT);
        }
    }
    let browse_for = Duration::from_secs_f64(args.timeout);
    let controllers = args.controllers;
    let (kind, types) = if controllers {
        ("Controller", discovery::CONTROLLER_SERVICE_TYPES)
    } else {
        ("Agent", discovery::AGENT_SERVICE_TYPES)
    };
    let browsing = move || {
        if controllers {
            mdns::browse_controllers(browse_for)
        } else {
            mdns::browse(browse_for)
        }
    };
    let mut found = match tokio::task::spawn_blocking(browsing).await {
        Ok(Ok(f)) => f,
        Ok(Err(e)) => {
            eprintln!("{e}");
            return exit(EXIT_BAD_INPUT);
        }
        Err(e) => {
            eprintln!("mDNS browse stopped: {e}");
            return exit(EXIT_BAD_INPUT);
        }
    };
    // R-DIS.11a: hold `encrypt` against the port (TCP MTPs; CoAP is UDP).
    for ad in found
        .iter_mut()
        .filter(|a| a.service_type.ends_with("._tcp.local."))
    {
        if let Some(ip) = ad
            .addresses
            .iter()
            .find(|a| a.is_ipv4())
            .or(ad.addresses.first())
        {
            let addr = std::net::SocketAddr::new(*ip, ad.port);
            ad.tls_observed = discovery::tls_probe::speaks_tls(addr, Duration::from_secs(2)).await;
        }
    }
    if found.is_empty() {
        crate::say!(
            "no USP {kind} advertisement ({}) found on loopback within {} s",
            types.join(", "),
            args.timeout
        );
        return exit(EXIT_FAILED);
    }
    let mut all_valid = true;
    crate::say!(
        "{:<10} {:<40} {:<22} {:<12} {:<24} {:<8} {:<5} verdict",
        "MTP",
        "Endpoint ID",
        "address",
        "path",
        "name",
        "encrypt",
        "TLS"
    );
    for ad in &found {
        let problems = discovery::validate_any(ad);
        all_valid &= problems.is_empty();
        crate::say!(
            "{:<10} {:<40} {:<22} {:<12} {:<24} {:<8} {:<5} {}",
            discovery::mtp_of(&ad.service_type),
            ad.instance,
            address(ad),
            txt(ad, "path"),
            if controllers {
                // R-DIS.10 asks `name` of Agents only.
                "-".to_string()
            } else {
                txt(ad, "name")
            },
            if ad.txt.contains_key("encrypt") {
                "yes"
            } else {
                "no"
            },
            match ad.tls_observed {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            },
            if problems.is_empty() {
                "valid".to_string()
            } else {
                format!(
                    "INVALID: {}",
                    problems
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        );
    }
    if let Some(path) = &args.target_out {
        let Some(yaml) = found
            .iter()
            .filter(|ad| discovery::validate(ad).is_empty())
            .find_map(discovery::target_file)
        else {
            eprintln!("no valid WebSocket Agent advertisement to write a target file for");
            return exit(EXIT_FAILED);
        };
        if let Err(e) = std::fs::write(path, yaml) {
            eprintln!("cannot write {}: {e}", path.display());
            return exit(EXIT_BAD_INPUT);
        }
        crate::say!("target file written to {}", path.display());
    }
    exit(if all_valid { EXIT_PASSED } else { EXIT_FAILED })
}

fn address(ad: &Advertisement) -> String {
    match ad
        .addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or(ad.addresses.first())
    {
        Some(a) => format!("{a}:{}", ad.port),
        None => format!("{}:{}", ad.host, ad.port),
    }
}

fn txt(ad: &Advertisement, key: &str) -> String {
    match ad.txt.get(key) {
        Some(Some(v)) => v.clone(),
        Some(None) => "(no value)".into(),
        None => "(missing)".into(),
    }
}
