//! Shared by the benches: a ratio of two throughputs measured in the same
//! run, interleaved so that load from other builds on the (shared) machine
//! falls on both sides alike. Criterion's own figures are printed too; this
//! is the number BENCHMARKS.md quotes as "ratio".

use std::time::{Duration, Instant};

/// Operations per second of `f` over about `window`.
pub fn rate(window: Duration, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Median over `rounds` interleaved rounds of (ours/s, theirs/s, ours/theirs).
pub fn interleaved(
    rounds: usize,
    window: Duration,
    ours: &mut dyn FnMut(),
    theirs: &mut dyn FnMut(),
) -> (f64, f64, f64) {
    let mut samples: Vec<(f64, f64)> = (0..rounds)
        .map(|_| (rate(window, ours), rate(window, theirs)))
        .collect();
    samples.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (o, t) = samples[samples.len() / 2];
    (o, t, o / t)
}

pub fn print_ratio(what: &str, ours: f64, theirs: f64, ratio: f64, target: f64) {
    let verdict = if ratio >= target { "meets" } else { "MISSES" };
    println!(
        "RATIO {what}: ours {ours:.0}/s, reference {theirs:.0}/s, ratio {ratio:.2} ({verdict} target >= {target})"
    );
}

/// The harness's Session against an in-process reference Agent wired as
/// `plugfest run` wires it for `options` (src/commands/loopback.rs),
/// connected; the `Started` keeps the Agent and any broker alive.
pub async fn loopback_session(
    options: usp_plugfest::commands::loopback::LoopbackOptions,
) -> (
    usp_plugfest::session::Session,
    usp_plugfest::commands::loopback::Started,
) {
    use usp_plugfest::agent::faults::FaultSet;
    use usp_plugfest::agent::runtime::AgentHost;
    use usp_plugfest::agent::{Agent, AgentConfig};
    use usp_plugfest::session::{Session, SessionConfig};
    use usp_plugfest::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID};

    let agent = Agent::new(AgentConfig {
        endpoint_id: DEFAULT_AGENT_ID.to_string(),
        faults: FaultSet::new(),
    });
    let mut started =
        usp_plugfest::commands::loopback::start(&options, AgentHost::new(agent, FaultSet::new()))
            .await
            .unwrap_or_else(|e| panic!("the loopback Agent does not start: {e}"));
    // The Session owns the connector; a dialer that is never used stands in.
    let connector = std::mem::replace(
        &mut started.connector,
        Box::new(usp_plugfest::mtp::websocket::WsDialer::new(
            "ws://127.0.0.1:1/",
            "unused",
        )),
    );
    let mut session = Session::new(
        connector,
        SessionConfig {
            controller_id: DEFAULT_CONTROLLER_ID.to_string(),
            agent_id: None,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            connect_record_timeout: Duration::from_secs(5),
        },
    );
    session
        .ensure_connected()
        .await
        .expect("the Agent connects");
    (session, started)
}

/// `n` Gets of Device.DeviceInfo. through `session`, one after the other:
/// the session back and how long they took (the session moves in and out
/// of a task on a worker: `OnWorker`).
pub async fn get_exchanges(
    mut session: usp_plugfest::session::Session,
    n: u64,
) -> (usp_plugfest::session::Session, Duration) {
    use usp_plugfest::usp::proto::msg::{request::ReqType, Get};
    let start = Instant::now();
    for _ in 0..n {
        session
            .request(ReqType::Get(Get {
                param_paths: vec!["Device.DeviceInfo.".into()],
                max_depth: 0,
            }))
            .await
            .map_err(|(_, e)| e)
            .expect("GetResp");
        // The runner drains the trace per case; keep it from growing here.
        drop(session.take_trace());
    }
    let took = start.elapsed();
    (session, took)
}

/// A value (a Session, a raw client) that each timed run moves into a task
/// on one of the runtime's workers and back: `plugfest` runs its command in
/// such a task (src/main.rs), so the Session and the in-process Agent
/// answer each other on one worker, as in a real run.
pub struct OnWorker<T> {
    rt: tokio::runtime::Handle,
    value: Option<T>,
}

impl<T: Send + 'static> OnWorker<T> {
    pub fn new(rt: &tokio::runtime::Runtime, value: T) -> Self {
        OnWorker {
            rt: rt.handle().clone(),
            value: Some(value),
        }
    }

    /// `work(value, n)` in a task on a worker: how long it said it took.
    pub fn run<F>(&mut self, n: u64, work: fn(T, u64) -> F) -> Duration
    where
        F: std::future::Future<Output = (T, Duration)> + Send + 'static,
    {
        let value = self
            .value
            .take()
            .expect("the value is back from the last run");
        let (value, took) = self
            .rt
            .block_on(self.rt.spawn(work(value, n)))
            .expect("the timed task does not panic");
        self.value = Some(value);
        took
    }
}

/// The process's CPU time so far: (user, system).
pub fn cpu_time() -> (Duration, Duration) {
    // SAFETY: getrusage writes the struct it is given; zeroed is a valid
    // value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (time(usage.ru_utime), time(usage.ru_stime))
}

/// `n` operations of `run` (which says how long they took): the wall time
/// and the process's user and system CPU time, each per operation in µs.
pub fn cpu_per_op(n: u64, run: &mut dyn FnMut(u64) -> Duration) -> (f64, f64, f64) {
    let (user0, sys0) = cpu_time();
    let wall = run(n);
    let (user1, sys1) = cpu_time();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    (per(wall), per(user1 - user0), per(sys1 - sys0))
}

/// Median over `rounds` interleaved rounds of `n` operations each, by the
/// ratio: (ours/s, theirs/s). Each closure runs `n` operations and says how
/// long they took.
pub fn median_rates(
    rounds: usize,
    n: u64,
    ours: &mut dyn FnMut(u64) -> Duration,
    theirs: &mut dyn FnMut(u64) -> Duration,
) -> (f64, f64) {
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let mut samples: Vec<(f64, f64)> = (0..rounds)
        .map(|_| (rate(ours(n)), rate(theirs(n))))
        .collect();
    samples.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    samples[samples.len() / 2]
}
