//! `plugfest bench`: whole-run figures (issue #7). N sessions at once in
//! this process, each with its own reference Agent and its own Session,
//! each running one suite (DeviceInfo by default): wall time and peak RSS
//! per session for each N; then the full default suite once, with the share
//! of its wall time spent waiting (session::wait_stats).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;

use super::loopback::SharedMqtt;
use super::run::{controller_sessions, prepare_with};
use crate::cli::{Cli, Command};
use crate::datamodel::Profiles;
use crate::results::{Counts, RunResult, Verdict};
use crate::runner::{Progress, Runner, Selection};
use crate::session::wait_stats;
use crate::session::Session;
use crate::suite::loader;
use crate::suite::model::Suite;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// How many sessions run at once, one figure each.
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000")]
    pub sessions: Vec<usize>,
    /// The suite each concurrent session runs.
    #[arg(long, default_value = "test-cases/deviceinfo.yaml")]
    pub cases: PathBuf,
    /// The MTP of the concurrent runs (as `plugfest run --mtp`). With
    /// `mqtt`, all N Agents and N sessions go through one private mosquitto.
    #[arg(long, default_value = "ws")]
    pub mtp: String,
    /// The suite run once for the wait share.
    #[arg(long, default_value = "test-cases")]
    pub full: PathBuf,
    /// Leave out the full-suite run.
    #[arg(long)]
    pub no_full: bool,
    /// Per-request timeout of the concurrent sessions (as `plugfest run
    /// --timeout-ms`; default: the built-in Agent's 2000 ms). At 1,000
    /// sessions on two shared cores an answer waits for every other session's
    /// turn on the two workers (and their report writes), which can exceed
    /// 2 s: that is the harness's own scheduling lag, not the Agent's.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
}

/// The (VmRSS, VmHWM) of this process in KiB, from /proc/self/status.
fn memory_kib() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn run_args(
    cases: &PathBuf,
    mtp: &str,
    out: &std::path::Path,
    timeout_ms: Option<u64>,
) -> Result<crate::cli::RunArgs, String> {
    let mut argv = vec![
        "plugfest".to_string(),
        "run".into(),
        "--quiet".into(),
        "--mtp".into(),
        mtp.into(),
        "--cases".into(),
        cases.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    if let Some(ms) = timeout_ms {
        argv.extend(["--timeout-ms".into(), ms.to_string()]);
    }
    match Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .command
    {
        Command::Run(a) => Ok(*a),
        _ => Err("not a run".into()),
    }
}

/// One whole run as `plugfest run` does it, minus the console output.
async fn one_run(
    args: crate::cli::RunArgs,
    suites: Arc<Vec<Suite>>,
    profiles: &'static Profiles,
    shared_mqtt: Option<SharedMqtt>,
) -> Result<(Counts, Option<String>), String> {
    let mut setup = prepare_with(&args, shared_mqtt).await?;
    let mut config = setup.session.clone();
    // A longer request timeout (--timeout-ms) stands for scheduling lag at
    // this scale; the wait for the Agent's Connect Record (2 s) suffers the
    // same lag, and over MQTT a request sent before the Agent has
    // subscribed is lost for good (no one to deliver it to).
    if let Some(ms) = args.timeout_ms {
        config.connect_record_timeout =
            config.connect_record_timeout.max(Duration::from_millis(ms));
    }
    let session = Session::new(setup.connector, config).with_silence_barrier(setup.silence_barrier);
    let quiet = Progress::lines(
        crate::terminal::Detail::Quiet,
        crate::terminal::Style::detect(),
    );
    // The other Controllers the cases act as (trust cases), as `plugfest
    // run` has them; without them those cases are skipped.
    let (controllers, unavailable) = controller_sessions(
        std::mem::take(&mut setup.controllers),
        &setup.session,
        setup.e2e,
    );
    let mut runner = Runner::new(session, profiles, args.out.clone(), quiet)
        .with_context(setup.context.clone())
        .with_controllers(controllers, unavailable);
    let mut result = RunResult {
        plan_timings: false,
        tool: String::new(),
        started_at: String::new(),
        target: setup.target_name.clone(),
        mtp: setup.mtp_label.clone(),
        connection: String::new(),
        controller_endpoint_id: setup.session.controller_id.clone(),
        agent_endpoint_id: setup.session.agent_id.clone(),
        tls: None,
        complete: false,
        counts: Counts::default(),
        cases: Vec::new(),
        journaled: 0,
        input_problems: Vec::new(),
    };
    let selection = Selection {
        case_ids: Vec::new(),
        profiles: Vec::new(),
    };
    runner.run(&suites, &selection, &mut result).await;
    result.complete = true;
    let (result, written) = runner.finish_reports(result).await;
    if let Err(e) = written {
        return Err(format!(
            "cannot write reports to {}: {e}",
            args.out.display()
        ));
    }
    runner.session.close().await;
    runner.close_controllers().await;
    if let Some(task) = setup.agent_task.take() {
        task.abort();
        let _ = task.await;
    }
    if let Some(broker) = setup.broker.take() {
        let _ = tokio::task::spawn_blocking(move || drop(broker)).await;
    }
    // The first case that did not pass, to say why a session failed.
    let failure = result
        .cases
        .iter()
        .find(|c| !matches!(c.verdict, Verdict::Passed | Verdict::Skipped))
        .map(|c| format!("{} {:?}: {}", c.id, c.verdict, c.message));
    Ok((result.counts, failure))
}

struct Figure {
    n: usize,
    wall: Duration,
    ok_sessions: usize,
    cases_passed: u64,
    cases_total: u64,
    first_error: Option<String>,
    first_failure: Option<String>,
    rss_growth_kib: u64,
    /// The shared mosquitto's peak RSS (`--mtp mqtt`), not in the above.
    broker_hwm_kib: Option<u64>,
}

/// The VmHWM of process `pid` in KiB.
fn peak_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn concurrent(
    n: usize,
    args: &BenchArgs,
    suites: Arc<Vec<Suite>>,
    profiles: &'static Profiles,
    scratch: &std::path::Path,
) -> Figure {
    // One mosquitto for all N pairs, started before the clock.
    let broker = if args.mtp == "mqtt" {
        match tokio::task::spawn_blocking(crate::broker::Mosquitto::start).await {
            Ok(Ok(b)) => Some(b),
            Ok(Err(e)) => return Figure::failed(n, format!("cannot start mosquitto: {e}")),
            Err(e) => return Figure::failed(n, e.to_string()),
        }
    } else {
        None
    };
    let (rss_before, _) = memory_kib().unwrap_or((0, 0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let out = scratch.join(format!("n{n}-{i}"));
        let suites = suites.clone();
        let a = run_args(&args.cases, &args.mtp, &out, args.timeout_ms);
        let shared = broker.as_ref().map(|b| SharedMqtt {
            address: b.address(),
            slot: i,
        });
        tasks.push(tokio::spawn(async move {
            one_run(a?, suites, profiles, shared).await
        }));
    }
    let mut figure = Figure {
        n,
        wall: Duration::ZERO,
        ok_sessions: 0,
        cases_passed: 0,
        cases_total: 0,
        first_error: None,
        first_failure: None,
        rss_growth_kib: 0,
        broker_hwm_kib: None,
    };
    for t in tasks {
        match t.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok((c, failure)) => {
                if let Some(f) = failure {
                    figure.first_failure.get_or_insert(f);
                }
                figure.cases_passed += c.passed as u64;
                figure.cases_total += c.total() as u64;
                if c.all_passed() {
                    figure.ok_sessions += 1;
                }
            }
            Err(e) => {
                figure.first_error.get_or_insert(e);
            }
        }
    }
    figure.wall = started.elapsed();
    let (_, hwm) = memory_kib().unwrap_or((0, 0));
    figure.rss_growth_kib = hwm.saturating_sub(rss_before);
    if let Some(b) = broker {
        figure.broker_hwm_kib = peak_kib_of(b.pid());
        let _ = tokio::task::spawn_blocking(move || drop(b)).await;
    }
    figure
}

impl Figure {
    fn failed(n: usize, why: String) -> Figure {
        Figure {
            n,
            wall: Duration::ZERO,
            ok_sessions: 0,
            cases_passed: 0,
            cases_total: 0,
            first_error: Some(why),
            first_failure: None,
            rss_growth_kib: 0,
            broker_hwm_kib: None,
        }
    }
}

pub async fn bench(args: BenchArgs) -> ExitCode {
    let profiles: &'static Profiles = Box::leak(Box::new(Profiles::builtin()));
    let (suites, errors) = loader::load_path_partial(&args.cases, profiles);
    if !errors.is_empty() || suites.is_empty() {
        eprintln!("cannot load {}", args.cases.display());
        return ExitCode::from(2);
    }
    let suites = Arc::new(suites);
    let scratch = std::env::temp_dir().join(format!("plugfest-bench-{}", std::process::id()));
    println!(
        "machine: {} cores available to this process",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("| sessions | MTP | wall time | sessions all passed | cases passed | peak RSS growth | per session |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for &n in &args.sessions {
        let f = concurrent(n, &args, suites.clone(), profiles, &scratch).await;
        println!(
            "| {} | {} | {:.2} s | {}/{} | {}/{} | {} KiB | {:.0} KiB |",
            f.n,
            args.mtp,
            f.wall.as_secs_f64(),
            f.ok_sessions,
            f.n,
            f.cases_passed,
            f.cases_total,
            f.rss_growth_kib,
            f.rss_growth_kib as f64 / f.n as f64
        );
        if let Some(kib) = f.broker_hwm_kib {
            println!(
                "  the shared mosquitto's peak RSS: {kib} KiB ({:.0} KiB per session)",
                kib as f64 / f.n as f64
            );
        }
        if let Some(e) = f.first_error {
            println!("  first session that could not run: {e}");
        }
        if let Some(e) = f.first_failure {
            println!("  first case that did not pass: {e}");
        }
        let _ = std::fs::remove_dir_all(&scratch);
    }
    if !args.no_full {
        let (full, errors) = loader::load_path_partial(&args.full, profiles);
        if !errors.is_empty() {
            eprintln!("cannot load {}", args.full.display());
            return ExitCode::from(2);
        }
        let before = wait_stats::snapshot();
        let started = Instant::now();
        let out = scratch.join("full");
        let counts = match run_args(&args.full, "ws", &out, None) {
            Ok(a) => one_run(a, Arc::new(full), profiles, None).await,
            Err(e) => Err(e),
        };
        let wall = started.elapsed();
        let after = wait_stats::snapshot();
        let _ = std::fs::remove_dir_all(&scratch);
        match counts {
            Ok((c, failure)) => {
                println!(
                    "\nfull suite {} over ws, one session: {:.2} s wall, {}/{} passed, {} skipped",
                    args.full.display(),
                    wall.as_secs_f64(),
                    c.passed,
                    c.total(),
                    c.skipped
                );
                if let Some(f) = failure {
                    println!("  first case that did not pass: {f}");
                }
            }
            Err(e) => println!("\nfull suite: {e}"),
        }
        let mut waited = Duration::ZERO;
        println!("| wait | count | time | share of wall |");
        println!("|---|---:|---:|---:|");
        for ((kind, t1, n1), (_, t0, n0)) in after.iter().zip(&before) {
            let t = *t1 - *t0;
            waited += t;
            println!(
                "| {kind:?} | {} | {:.2} s | {:.1} % |",
                n1 - n0,
                t.as_secs_f64(),
                100.0 * t.as_secs_f64() / wall.as_secs_f64()
            );
        }
        println!(
            "| all waits | | {:.2} s | {:.1} % |",
            waited.as_secs_f64(),
            100.0 * waited.as_secs_f64() / wall.as_secs_f64()
        );
    }
    ExitCode::SUCCESS
}
