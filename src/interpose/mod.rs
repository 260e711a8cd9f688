//! Interposers: the harness standing between the Agent under test and a
//! real broker, seeing every MTP packet and steering what the Agent
//! receives (issue #9; TP-469 section 11 for MQTT).

pub mod mqtt;
pub mod mqtt_codec;
pub mod mqtt_log;
pub mod mqtt_steer;
mod mqtt_summary;

pub use mqtt::{InterposerHandle, MqttInterposer};
