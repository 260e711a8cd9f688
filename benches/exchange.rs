//! Get request/response exchanges per second over loopback WebSocket: the
//! harness's Session against the in-process reference Agent (wired as
//! `plugfest run` wires it: src/commands/loopback.rs) vs. a raw
//! tokio-tungstenite peer answering the same request bytes with the same
//! response bytes (the limit: WebSocket and loopback TCP alone).
//! `cargo bench --bench exchange`; target ratio >= 0.8 (issue #7).

#[allow(dead_code)] // not the interleaved rate helpers
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

/// A raw WebSocket peer that answers every binary message with `reply`,
/// and a client connected to it.
async fn raw_pair(
    reply: Vec<u8>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
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
    let (client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
        .await
        .unwrap();
    client
}

async fn raw(
    client: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    request: &[u8],
    n: u64,
) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        client
            .send(Message::Binary(request.to_vec().into()))
            .await
            .unwrap();
        let m = client.next().await.unwrap().unwrap();
        assert!(m.is_binary());
    }
    start.elapsed()
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
    let mut client = rt.block_on(raw_pair(response));

    let mut g = c.benchmark_group("exchange/Get over loopback WebSocket");
    g.bench_function("plugfest Session + reference Agent", |b| {
        b.iter_custom(|n| rt.block_on(common::get_exchanges(&mut session, n)))
    });
    g.bench_function("raw tokio-tungstenite, same bytes", |b| {
        b.iter_custom(|n| rt.block_on(raw(&mut client, &request, n)))
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
    g.finish();

    // Interleaved rounds of 2,000 exchanges each; median ratio.
    let (o, t) = common::median_rates(
        7,
        2_000,
        &mut |n| rt.block_on(common::get_exchanges(&mut session, n)),
        &mut |n| rt.block_on(raw(&mut client, &request, n)),
    );
    common::print_ratio(
        "Get exchanges over loopback WebSocket vs raw tokio-tungstenite",
        o,
        t,
        o / t,
        0.8,
    );
    // Where the difference goes: one exchange is in flight at a time, so
    // the process is busy for about all of it; what each side spends in
    // user space (codecs, the Agent, the Session) and in the kernel
    // (sockets, wake-ups) shows which part can shrink.
    let n = 20_000;
    let ours = common::cpu_per_op(n, &mut |n| {
        rt.block_on(common::get_exchanges(&mut session, n))
    });
    let raw_cpu = common::cpu_per_op(n, &mut |n| rt.block_on(raw(&mut client, &request, n)));
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
