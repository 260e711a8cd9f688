//! Get request/response exchanges per second over loopback WebSocket: the
//! harness's Session against the in-process reference Agent (wired as
//! `plugfest run` wires it: src/commands/loopback.rs) vs. a raw
//! tokio-tungstenite peer answering the same request bytes with the same
//! response bytes (the limit: WebSocket and loopback TCP alone, with the
//! harness's WebSocket settings on both ends). Both clients run in a task on
//! a worker, as `plugfest` runs its command (src/main.rs).
//! `cargo bench --bench exchange`; target ratio >= 0.8 (issue #7).

#[allow(dead_code)] // `interleaved` is for the codec bench
mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use usp_plugfest::agent::faults::FaultSet;
use usp_plugfest::agent::{Agent, AgentConfig};
use usp_plugfest::cli::{MtpArg, Role};
use usp_plugfest::commands::loopback::{self, LoopbackOptions};
use usp_plugfest::mtp::websocket::ws_config;
use usp_plugfest::session::Session;
use usp_plugfest::target::{DEFAULT_AGENT_ID, DEFAULT_CONTROLLER_ID};
use usp_plugfest::usp::proto::msg::{request::ReqType, Get};
use usp_plugfest::usp::record;

fn get() -> ReqType {
    ReqType::Get(Get {
        param_paths: vec!["Device.DeviceInfo.".into()],
        max_depth: 0,
    })
}

async fn harness_session() -> (Session, loopback::Started) {
    common::loopback_session(LoopbackOptions::plain(MtpArg::Ws, Role::Server)).await
}

type RawWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw WebSocket peer that answers every binary message with `reply`,
/// and a client connected to it with the request it sends. Both ends use
/// the harness's WebSocket settings (read buffer, size limits): what is
/// left between the two benches is the USP work.
async fn raw_pair(request: Vec<u8>, reply: Vec<u8>) -> (RawWs, Vec<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut ws = tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config()))
            .await
            .unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_binary()
                && ws
                    .send(Message::Binary(reply.clone().into()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    });
    let (client, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{addr}/"),
        Some(ws_config()),
        true,
    )
    .await
    .unwrap();
    (client, request)
}

/// `n` exchanges of the raw client: the client back and how long they took.
async fn raw((mut client, request): (RawWs, Vec<u8>), n: u64) -> ((RawWs, Vec<u8>), Duration) {
    let start = Instant::now();
    for _ in 0..n {
        client
            .send(Message::Binary(request.clone().into()))
            .await
            .unwrap();
        let m = client.next().await.unwrap().unwrap();
        assert!(m.is_binary());
    }
    let took = start.elapsed();
    ((client, request), took)
}

/// What the Session does first with every answer (Session::classify):
/// read the Record in place and decode its Msg.
fn read_answer(bytes: &[u8]) -> usp_plugfest::usp::proto::msg::Msg {
    record::parse(std::hint::black_box(bytes), Some(DEFAULT_CONTROLLER_ID))
        .and_then(|r| r.payload_msg())
        .expect("the Agent's answer reads")
}

fn bench(c: &mut Criterion) {
    // Two workers, as `plugfest run` has on this 2-core machine.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut session, _started) = rt.block_on(harness_session());
    // The same bytes for the raw peer: the Record the harness sent and the
    // one the Agent answered with.
    let exchange = rt
        .block_on(session.request(get()))
        .map_err(|(_, e)| e)
        .unwrap();
    let request = record::encode(&record::no_session(
        DEFAULT_CONTROLLER_ID,
        DEFAULT_AGENT_ID,
        &exchange.sent,
    ));
    let response = record::encode(&record::no_session(
        DEFAULT_AGENT_ID,
        DEFAULT_CONTROLLER_ID,
        &exchange.response,
    ));
    let mut session = common::OnWorker::new(&rt, session);
    let mut client = common::OnWorker::new(&rt, rt.block_on(raw_pair(request, response.clone())));

    let mut g = c.benchmark_group("exchange/Get over loopback WebSocket");
    g.bench_function("plugfest Session + reference Agent", |b| {
        b.iter_custom(|n| session.run(n, common::get_exchanges))
    });
    g.bench_function("raw tokio-tungstenite, same bytes", |b| {
        b.iter_custom(|n| client.run(n, raw))
    });
    // Where the time goes: the reference Agent's sans-I/O core alone
    // answering the same Get (no transport, no Session).
    let mut core = Agent::new(AgentConfig {
        endpoint_id: DEFAULT_AGENT_ID.to_string(),
        faults: FaultSet::new(),
    });
    g.bench_function("reference Agent core alone (Agent::handle)", |b| {
        b.iter(|| core.handle(DEFAULT_CONTROLLER_ID, std::hint::black_box(&exchange.sent)))
    });
    g.bench_function("reading the answer alone (Record + Msg)", |b| {
        b.iter(|| read_answer(&response))
    });
    g.finish();

    // Interleaved rounds of 2,000 exchanges each; median ratio.
    let (o, t) = common::median_rates(
        7,
        2_000,
        &mut |n| session.run(n, common::get_exchanges),
        &mut |n| client.run(n, raw),
    );
    common::print_ratio(
        "Get exchanges over loopback WebSocket vs raw tokio-tungstenite",
        o,
        t,
        o / t,
        0.8,
    );
    // The least any harness does with an answer is read it: the raw
    // exchange plus that alone (no Agent, no encoding, no checks) is as
    // high as the ratio can go for a harness that looks at what it gets.
    let reads = common::rate(Duration::from_secs(1), &mut || {
        read_answer(&response);
    });
    let ceiling = (1.0 / t) / (1.0 / t + 1.0 / reads);
    println!(
        "CEILING reading each {}-byte answer with the harness's decoder (Record + Msg, {reads:.0}/s) on top of the raw exchange, and nothing else: ratio <= {ceiling:.2}",
        response.len()
    );
    // Where the difference goes: one exchange is in flight at a time, so
    // the process is busy for about all of it; what each side spends in
    // user space (codecs, the Agent, the Session) and in the kernel
    // (sockets, wake-ups) shows which part can shrink.
    let n = 20_000;
    let ours = common::cpu_per_op(n, &mut |n| session.run(n, common::get_exchanges));
    let raw_cpu = common::cpu_per_op(n, &mut |n| client.run(n, raw));
    for (who, (wall, user, sys)) in [("ours", ours), ("raw", raw_cpu)] {
        println!(
            "CPU per Get exchange, {who}: {wall:.1} us wall, {user:.1} us user + {sys:.1} us system"
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
