//! usp-plugfest: a scripted USP (TR-369) Controller that tests USP Agents.
//! Data flows one way: YAML cases (`suite`) are run (`runner`) through a
//! Controller `session` over an `mtp`, producing `results` that the
//! `report` writers print. The reference `agent` uses the same codec and
//! transports, never the runner.

pub mod agent;
pub mod broker;
pub mod cli;
pub mod commands;
pub mod datamodel;
pub mod discovery;
pub mod fuzz_entry;
pub mod http_server;
pub mod interpose;
pub mod mtp;
pub mod report;
pub mod results;
pub mod runner;
pub mod say;
pub mod session;
pub mod suite;
pub mod target;
pub mod terminal;
pub mod trace;
pub mod usp;
