//! Interposers: the harness standing between the Agent under test and a
//! real broker, seeing every MTP packet and steering what the Agent
//! receives (issue #9; TP-469 section 11 for MQTT, section 6 for STOMP).

pub mod mqtt;
pub mod mqtt_codec;
pub mod mqtt_log;
pub mod mqtt_retries;
pub mod mqtt_steer;
mod mqtt_summary;
pub mod relay;
pub mod stomp;
pub mod stomp_log;
pub mod stomp_retries;
pub mod stomp_steer;

pub use mqtt::{InterposerHandle, MqttInterposer};
pub use stomp::{StompInterposer, StompInterposerHandle};
