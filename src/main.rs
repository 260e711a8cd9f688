use std::process::ExitCode;

use clap::Parser;
use usp_plugfest::cli::{Cli, Command};
use usp_plugfest::commands;

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run(args) => commands::run::run(*args).await,
        Command::Validate { path } => commands::validate::validate(&path),
        Command::Schema => commands::schema::schema(),
        Command::Report {
            results,
            out,
            templates,
        } => commands::report::report(&results, out.as_deref(), templates.as_deref()),
        Command::Matrix {
            results,
            out,
            templates,
        } => commands::matrix::matrix(&results, &out, templates.as_deref()),
        Command::Decode { bytes, file } => {
            commands::decode::decode(bytes.as_deref(), file.as_deref())
        }
        Command::Discover(args) => commands::discover::discover(&args).await,
        Command::Agent(args) => commands::agent::agent(*args).await,
        Command::Profiles { command } => commands::profiles::profiles(command),
        Command::List(args) => commands::list::list(&args),
        Command::Bench(args) => commands::bench::bench(args).await,
    }
}
