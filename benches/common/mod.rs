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
