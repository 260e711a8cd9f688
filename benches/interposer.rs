//! The interposers' cost (issue #9): Get request/response exchanges per
//! second between the harness and the in-process reference Agent through a
//! real broker, once with the Agent connected straight to the broker and
//! once through the interposer (`plugfest run --interpose`), in one run.
//! Each side has its own private broker, started as `plugfest run` starts
//! it. `cargo bench --bench interposer` (MQTT through mosquitto; set
//! `PLUGFEST_BENCH_STOMP=1` to add STOMP through RabbitMQ, whose two
//! brokers take about a minute to start).

#[allow(dead_code)] // this bench uses the session builder and the printer
mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use usp_plugfest::cli::{MtpArg, Role};
use usp_plugfest::commands::loopback::{LoopbackOptions, Started};
use usp_plugfest::session::Session;

fn options(mtp: MtpArg, interpose: bool) -> LoopbackOptions {
    LoopbackOptions {
        interpose,
        ..LoopbackOptions::plain(mtp, Role::Server)
    }
}

fn compare(c: &mut Criterion, rt: &tokio::runtime::Runtime, mtp: MtpArg, label: &str) {
    let (direct, direct_started): (Session, Started) =
        rt.block_on(common::loopback_session(options(mtp, false)));
    let (through, through_started): (Session, Started) =
        rt.block_on(common::loopback_session(options(mtp, true)));
    assert!(
        through_started.mqtt_interposer.is_some() || through_started.stomp_interposer.is_some(),
        "the interposed run has no interposer"
    );

    let (mut direct, mut through) = (
        common::OnWorker::new(rt, direct),
        common::OnWorker::new(rt, through),
    );
    let mut g = c.benchmark_group(format!("interposer/Get over {label}"));
    g.bench_function("straight to the broker", |b| {
        b.iter_custom(|n| direct.run(n, common::get_exchanges))
    });
    g.bench_function("through the interposer", |b| {
        b.iter_custom(|n| through.run(n, common::get_exchanges))
    });
    g.finish();

    // Interleaved rounds of 500 exchanges each; median ratio. The
    // interposer's log grows by four packets per exchange: it is the
    // run-long trace a real case would keep, so it is not trimmed here.
    let (t, d) = common::median_rates(
        7,
        500,
        &mut |n| through.run(n, common::get_exchanges),
        &mut |n| direct.run(n, common::get_exchanges),
    );
    // No target in issue #9: the figure is the interposer's cost.
    println!(
        "RATIO Get exchanges over {label} through the interposer vs straight to the broker: \
         through {t:.0}/s, straight {d:.0}/s, ratio {:.2} (the interposer costs {:.0}% of the rate)",
        t / d,
        (1.0 - t / d) * 100.0
    );
    // Brokers block while they stop: off the runtime's threads.
    drop(direct);
    drop(through);
    drop(direct_started);
    drop(through_started);
}

fn bench(c: &mut Criterion) {
    // Two workers, as `plugfest run` has on this 2-core machine.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    compare(c, &rt, MtpArg::Mqtt, "MQTT 5 (mosquitto)");
    if std::env::var_os("PLUGFEST_BENCH_STOMP").is_some() {
        compare(c, &rt, MtpArg::Stomp, "STOMP 1.2 (RabbitMQ)");
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10);
    targets = bench
}
criterion_main!(benches);
