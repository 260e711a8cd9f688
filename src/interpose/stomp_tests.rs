//! The relay against a scripted broker on loopback (no RabbitMQ): frames
//! and heart-beats pass both ways and are logged, CONNECTED is steered,
//! connections are refused and live ones sent an ERROR.

use super::*;
use crate::interpose::stomp_log::FramePattern;
use tokio::net::TcpListener;

/// A broker that answers every STOMP frame with CONNECTED (heart-beat
/// 0,0, the optional EOL after its NUL) and echoes SEND bodies back as
/// MESSAGE.
async fn fake_broker() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut dec = Decoder::default();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    dec.push(&chunk[..n]);
                    while let Ok(Some(f)) = dec.next_frame() {
                        let reply = match f.command.as_str() {
                            "STOMP" => Frame::new("CONNECTED")
                                .header("version", "1.2")
                                .header("heart-beat", "0,0"),
                            _ => Frame::new("MESSAGE")
                                .header("destination", f.get("destination").unwrap_or("?"))
                                .body_with_length(&f.body),
                        };
                        let mut bytes = reply.encode();
                        bytes.push(b'\n');
                        if s.write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

struct Agent {
    tcp: TcpStream,
    dec: Decoder,
}

impl Agent {
    async fn connect(interposer: &StompInterposer) -> Agent {
        let mut tcp = TcpStream::connect(interposer.address()).await.unwrap();
        let hello = Frame::new("STOMP")
            .header("accept-version", "1.2")
            .header("endpoint-id", "proto::a")
            .header("passcode", "secret");
        tcp.write_all(&hello.encode()).await.unwrap();
        Agent {
            tcp,
            dec: Decoder::default(),
        }
    }

    /// The next frame, or `None` at the end of the stream.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.dec.next_frame().unwrap() {
                return Some(f);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.tcp.read(&mut chunk))
                .await
                .expect("something within 5 s")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.dec.push(&chunk[..n]);
        }
    }
}

fn commands(h: &StompInterposerHandle) -> Vec<String> {
    h.since(0)
        .iter()
        .map(|f| format!("{:?} {}", f.way, f.command))
        .collect()
}

#[tokio::test]
async fn frames_are_relayed_logged_and_connected_is_steered() {
    let interposer = super::start("127.0.0.1:0", &fake_broker().await, None)
        .await
        .unwrap();
    let h = interposer.handle();
    h.steer(Steering {
        subscribe_dest: Some("/queue/steered".into()),
        ..Steering::default()
    });
    let mut agent = Agent::connect(&interposer).await;
    let connected = agent.next().await.unwrap();
    assert_eq!(connected.command, "CONNECTED");
    assert_eq!(connected.get("subscribe-dest"), Some("/queue/steered"));
    // A heart-beat alone is logged as one.
    agent.tcp.write_all(b"\n").await.unwrap();
    let wanted = FramePattern {
        command: "HEARTBEAT".into(),
        ..FramePattern::default()
    };
    assert!(h.wait_for(0, &wanted, Duration::from_secs(2)).await.is_ok());
    // A body with NULs and a header that needs escaping survive the relay.
    let send = Frame::new("SEND")
        .header("destination", "/queue/a:b")
        .body_with_length(b"\0usp\0");
    agent.tcp.write_all(&send.encode()).await.unwrap();
    let message = agent.next().await.unwrap();
    assert_eq!(message.get("destination"), Some("/queue/a:b"));
    assert_eq!(message.body, b"\0usp\0");

    let log = h.since(0);
    let connected = log.iter().find(|f| f.command == "CONNECTED").unwrap();
    assert!(connected
        .steered
        .as_deref()
        .unwrap()
        .contains("/queue/steered"));
    assert_eq!(log[0].get("passcode"), Some("***"));
    // The broker's EOL after each frame is padding, not a heart-beat.
    assert!(
        !commands(&h).contains(&"ToAgent HEARTBEAT".to_string()),
        "{:?}",
        commands(&h)
    );
    // The steering served one connection only.
    let mut again = Agent::connect(&interposer).await;
    assert_eq!(again.next().await.unwrap().get("subscribe-dest"), None);
}

#[tokio::test]
async fn refusals_then_acceptance_and_an_injected_error() {
    let interposer = super::start("127.0.0.1:0", &fake_broker().await, None)
        .await
        .unwrap();
    let h = interposer.handle();
    h.steer(Steering {
        refuse_connections: 1,
        ..Steering::default()
    });
    let mut refused = Agent::connect(&interposer).await;
    assert_eq!(refused.next().await.unwrap().command, "ERROR");
    assert!(
        refused.next().await.is_none(),
        "the refused connection stays open"
    );

    let mut live = Agent::connect(&interposer).await;
    assert_eq!(live.next().await.unwrap().command, "CONNECTED");
    h.steer(Steering {
        error: Some("go away".into()),
        ..Steering::default()
    });
    let error = live.next().await.unwrap();
    assert_eq!(error.command, "ERROR");
    assert_eq!(error.get("message"), Some("go away"));
    assert!(live.next().await.is_none(), "closed after the ERROR");
    let log = h.since(0);
    assert!(log.iter().all(|f| f.connection <= 2), "{log:?}");
    assert_eq!(
        log.iter().filter(|f| f.command == "ERROR").count(),
        2,
        "{:?}",
        commands(&h)
    );
}
