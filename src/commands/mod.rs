//! The subcommands: each turns parsed arguments into work and an exit code
//! (0 all passed, 1 some failed, 2 bad input or setup, 130 interrupted).

pub mod agent;
pub mod bench;
pub mod decode;
pub mod discover;
pub mod list;
pub mod loopback;
pub mod matrix;
pub mod profiles;
pub mod report;
pub mod run;
pub mod schema;
pub mod targets;
pub mod validate;

use std::process::ExitCode;

pub const EXIT_PASSED: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BAD_INPUT: u8 = 2;
/// `plugfest run` stopped by SIGINT: 128 + 2, the shell's convention.
pub const EXIT_INTERRUPTED: u8 = 130;

pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// Parses fault names, saying which are valid when one is not.
pub fn parse_faults(names: &[String]) -> Result<crate::agent::faults::FaultSet, String> {
    let mut set = crate::agent::faults::FaultSet::default();
    for name in names {
        set.insert(name.parse().map_err(|e| format!("{e}"))?);
    }
    Ok(set)
}

/// The transport's version from the command-line choice.
pub fn mqtt_version(arg: crate::cli::MqttVersionArg) -> crate::mtp::mqtt::MqttVersion {
    match arg {
        crate::cli::MqttVersionArg::V5 => crate::mtp::mqtt::MqttVersion::V5,
        crate::cli::MqttVersionArg::V3_1_1 => crate::mtp::mqtt::MqttVersion::V3_1_1,
    }
}
