//! The test-case language: YAML files → `Suite`s (model, loader), and the
//! pure functions the runner calls per step: build the request, evaluate
//! the expectation, capture variables. No I/O apart from reading files.

pub mod bad_record_steps;
pub mod capture;
pub mod coap_steps;
pub mod dhcp_steps;
pub mod discovery_steps;
pub mod e2e_origin_steps;
pub mod e2e_steps;
pub mod error;
pub mod expect;
pub mod facts;
pub mod loader;
pub mod matchers;
pub mod model;
pub mod mqtt_steps;
pub mod notify;
pub mod profile_check;
pub mod request;
pub mod results;
pub mod schema;
pub mod stomp_steps;
pub mod tls_steps;
pub mod var_check;
pub mod vars;
pub mod ws_steps;

pub use capture::capture;
pub use error::StepError;
pub use expect::{evaluate, Check};
pub use loader::{load_path, load_path_partial, load_str, LoadError};
pub use model::*;
pub use notify::evaluate_notify;
pub use request::build_request;
pub use vars::Vars;

#[cfg(test)]
mod tests;
