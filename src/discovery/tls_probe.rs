//! Whether an advertised TCP port speaks TLS, to hold the TXT `encrypt` key
//! against it (R-DIS.11a): a TLS handshake that accepts any certificate (the
//! identity is not the question here, only whether the port encrypts).

use std::net::SocketAddr;
use std::time::Duration;

use rustls_pki_types::ServerName;

use crate::mtp::tls::{ClientTls, ServerTrust};

/// `Some(true)` when a TLS handshake completes, `Some(false)` when the port
/// answers but not with TLS, `None` when it cannot be told (no connection,
/// no answer in time).
pub async fn speaks_tls(addr: SocketAddr, limit: Duration) -> Option<bool> {
    let tls = ClientTls::new(ServerTrust::Insecure, None).ok()?;
    let tcp = tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let name = ServerName::IpAddress(addr.ip().into());
    match tokio::time::timeout(limit, tls.connector().connect(name, tcp)).await {
        Ok(Ok(_)) => Some(true),
        Ok(Err(_)) => Some(false),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mtp::tls::pki::TestCa;
    use crate::mtp::tls::{ClientAuth, ServerTls};

    #[tokio::test]
    async fn a_plain_port_is_not_tls_and_a_tls_port_is() {
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_addr = plain.local_addr().unwrap();
        tokio::spawn(async move {
            // An HTTP/WebSocket server that gets a ClientHello answers and closes.
            use tokio::io::AsyncWriteExt;
            while let Ok((mut s, _)) = plain.accept().await {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        assert_eq!(
            speaks_tls(plain_addr, Duration::from_secs(2)).await,
            Some(false)
        );

        let ca = TestCa::new("probe CA").unwrap();
        let cert = ca.issue("proto::probe").unwrap();
        let server = ServerTls::new(cert.identity(), ClientAuth::None).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls_addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let acceptor = server.acceptor();
                tokio::spawn(async move {
                    let _conn = acceptor.accept(s).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                });
            }
        });
        assert_eq!(
            speaks_tls(tls_addr, Duration::from_secs(2)).await,
            Some(true)
        );

        // Nothing listening: cannot be told.
        drop(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
        let closed: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(speaks_tls(closed, Duration::from_secs(2)).await, None);
    }
}
