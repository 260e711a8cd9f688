//! Brokers started on loopback for the broker-based MTPs.

pub mod rabbitmq;
