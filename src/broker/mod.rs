//! Brokers the harness starts for itself on loopback (the broker-based
//! MTPs need one between Controller and Agent). Each launcher owns its
//! child process and stops it when dropped.

pub mod mosquitto;
pub mod rabbitmq;

pub use mosquitto::{BrokerError, Mosquitto, MosquittoTls};
