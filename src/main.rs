use std::process::ExitCode;

use clap::Parser;
use usp_plugfest::cli::{Cli, Command};
use usp_plugfest::commands;

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command;
    // The command runs in a task on a worker, not on the main thread: a
    // Session and the in-process reference Agent then answer each other on
    // one worker, while on the main thread every Record they exchanged
    // woke a parked thread (a Get exchange took 4.4 times as long;
    // BENCHMARKS.md). benches/ drive the Session the same way.
    match tokio::spawn(dispatch(command)).await {
        Ok(code) => code,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Nothing cancels the task; a runtime shutting down under it would.
        Err(_) => ExitCode::FAILURE,
    }
}

async fn dispatch(command: Command) -> ExitCode {
    match command {
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
