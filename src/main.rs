use std::process::ExitCode;

use clap::Parser;
use usp_plugfest::cli::{Cli, Command};
use usp_plugfest::commands;

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => commands::run::run(*args).await,
        Command::Validate { path } => commands::validate::validate(&path),
        Command::Agent(args) => commands::agent::agent(*args).await,
    }
}
