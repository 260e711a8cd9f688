//! `plugfest agent`: the reference Agent on its own, as a WebSocket server
//! or client, with optional faults.

use std::process::ExitCode;
use std::time::Duration;

use super::{exit, parse_faults, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::agent::faults::Fault;
use crate::agent::runtime::AgentHost;
use crate::agent::{Agent, AgentConfig};
use crate::cli::AgentArgs;
use crate::mtp::websocket::{WsDialer, WsServer};

pub async fn agent(args: AgentArgs) -> ExitCode {
    if args.list_faults {
        for f in Fault::ALL {
            println!("{}", f.name());
        }
        return exit(EXIT_PASSED);
    }
    let faults = match parse_faults(&args.faults) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return exit(EXIT_BAD_INPUT);
        }
    };
    let agent = Agent::new(AgentConfig {
        endpoint_id: args.endpoint_id.clone(),
        faults: faults.clone(),
    });
    let host = AgentHost::new(agent, faults).with_log(true);
    match (args.listen, args.connect) {
        (Some(addr), _) => {
            let server = match WsServer::bind(&addr, None, &args.endpoint_id).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return exit(EXIT_BAD_INPUT);
                }
            };
            eprintln!(
                "reference Agent {} listening on ws://{}/",
                args.endpoint_id,
                server.local_addr()
            );
            tokio::select! {
                _ = host.run_listener(server) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        (None, Some(url)) => {
            eprintln!("reference Agent {} connecting to {url}", args.endpoint_id);
            tokio::select! {
                _ = host.run_dialer(WsDialer::new(&url, &args.endpoint_id), Some(args.controller_id), Duration::from_secs(5)) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        (None, None) => {
            eprintln!(
                "say where to meet the Controller: --listen ADDR or --connect ws://HOST:PORT/PATH"
            );
            return exit(EXIT_BAD_INPUT);
        }
    }
    exit(EXIT_PASSED)
}
