//! The UDS driver over real sockets in a temp dir: handshake both ways,
//! Error TLVs, and the socket file's life.

use super::*;

const CTRL: &str = "proto::ctrl";
const AGENT: &str = "proto::agent";

fn sock(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("usp.sock")
}

#[tokio::test]
async fn dialer_and_listener_exchange_endpoint_ids_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut listener = UdsListener::bind(sock(&dir), CTRL).unwrap();
    let dialer = UdsDialer::new(sock(&dir), AGENT);
    let (server, client) = tokio::join!(listener.establish(), dialer.connect());
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    assert_eq!(server.peer().endpoint_id.as_deref(), Some(AGENT));
    assert_eq!(client.peer().endpoint_id.as_deref(), Some(CTRL));
    client.send(b"rec-1").await.unwrap();
    assert_eq!(
        server.recv().await.unwrap(),
        Inbound::Record(b"rec-1".to_vec())
    );
    server.close(Some(1003), "bad record").await;
    let err = client.recv().await.unwrap_err();
    assert_eq!(
        err,
        MtpError::Closed {
            code: None,
            reason: "the peer sent an Error TLV: bad record".into()
        }
    );
    assert!(client.send(b"late").await.is_err());
}

#[tokio::test]
async fn bind_replaces_a_stale_socket_but_not_a_regular_file_and_drop_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = sock(&dir);
    let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
    drop(stale); // the file stays behind, as after a crash
    assert!(path.exists());
    let listener = UdsListener::bind(&path, CTRL).unwrap();
    drop(listener);
    assert!(!path.exists(), "the socket file was left behind");
    std::fs::write(&path, b"not a socket").unwrap();
    let err = UdsListener::bind(&path, CTRL).err().unwrap();
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert!(path.exists());
}

#[tokio::test]
async fn a_dialer_gives_up_when_the_server_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    let _silent = tokio::net::UnixListener::bind(sock(&dir)).unwrap();
    let err = UdsDialer::new(sock(&dir), AGENT)
        .with_handshake_timeout(Duration::from_millis(100))
        .connect()
        .await
        .err()
        .unwrap();
    assert!(matches!(err, MtpError::Handshake { .. }), "{err:?}");
    assert!(
        err.to_string().contains("no Handshake TLV within 100 ms"),
        "{err}"
    );
}
