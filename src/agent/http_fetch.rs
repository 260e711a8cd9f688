//! A minimal HTTP/1.1 GET client on a tokio TcpStream for the Agent's firmware
//! Download(): http:// only, Basic auth when a user name is given, `Connection: close`,
//! body framed by Content-Length or read to EOF, with a size cap.

use base64::Engine;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    #[error("unsupported URL \"{0}\": only http://host[:port]/path is supported")]
    BadUrl(String),
    #[error("cannot connect to {addr}: {why}")]
    Connect { addr: String, why: String },
    #[error("I/O error: {0}")]
    Io(String),
    #[error("malformed HTTP response: {0}")]
    Malformed(String),
    #[error("the server answered HTTP {code} {reason}")]
    Status { code: u16, reason: String },
    #[error("the file is larger than the {0}-byte limit")]
    TooLarge(usize),
    #[error("the body ended after {got} of {expected} bytes")]
    Truncated { got: usize, expected: usize },
}

/// `host:port` and the request target of an http:// URL.
fn split_url(url: &str) -> Result<(String, String, String), FetchError> {
    let bad = || FetchError::BadUrl(url.to_string());
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    // `[::1]:8080`, `host:8080`, `host`
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && !p.contains(']') && p.parse::<u16>().is_ok());
    let addr = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((addr, authority.to_string(), path.to_string()))
}

/// GETs `url`; the body of a 2xx answer, at most `cap` bytes.
pub async fn get(
    url: &str,
    username: &str,
    password: &str,
    cap: usize,
) -> Result<Vec<u8>, FetchError> {
    let (addr, host, target) = split_url(url)?;
    let mut stream = TcpStream::connect(&addr)
        .await
        .map_err(|e| FetchError::Connect {
            addr: addr.clone(),
            why: e.to_string(),
        })?;
    let mut request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: usp-plugfest-agent\r\n");
    if !username.is_empty() {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        request.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let io = |e: std::io::Error| FetchError::Io(e.to_string());
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    // Headers are small; the cap bounds the whole read.
    let limit = cap.saturating_add(16 * 1024);
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.map_err(io)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > limit {
            return Err(FetchError::TooLarge(cap));
        }
    }
    parse_response(&raw, cap)
}

fn parse_response(raw: &[u8], cap: usize) -> Result<Vec<u8>, FetchError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| FetchError::Malformed("no end of headers".into()))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(FetchError::Malformed(format!("status line \"{status}\"")));
    }
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| FetchError::Malformed(format!("status line \"{status}\"")))?;
    let reason = parts.next().unwrap_or("").to_string();
    if !(200..300).contains(&code) {
        return Err(FetchError::Status { code, reason });
    }
    let mut length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<usize>().map_err(|_| {
                    FetchError::Malformed(format!("Content-Length \"{}\"", value.trim()))
                })?);
            }
            if name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
            {
                return Err(FetchError::Malformed(
                    "chunked transfer encoding is not supported".into(),
                ));
            }
        }
    }
    let body = match length {
        Some(n) if n > cap => return Err(FetchError::TooLarge(cap)),
        Some(n) if body.len() < n => {
            return Err(FetchError::Truncated {
                got: body.len(),
                expected: n,
            })
        }
        Some(n) => &body[..n],
        None if body.len() > cap => return Err(FetchError::TooLarge(cap)),
        None => body,
    };
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn urls_and_responses() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/a/b.bin").unwrap(),
            (
                "127.0.0.1:8080".into(),
                "127.0.0.1:8080".into(),
                "/a/b.bin".into()
            )
        );
        assert_eq!(split_url("http://[::1]/x").unwrap().0, "[::1]:80");
        assert!(split_url("ftp://h/x").is_err());
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(parse_response(ok, 100).unwrap(), b"abc");
        let eof = b"HTTP/1.0 200 OK\r\n\r\nabcdef";
        assert_eq!(parse_response(eof, 100).unwrap(), b"abcdef");
        assert_eq!(parse_response(eof, 3).unwrap_err(), FetchError::TooLarge(3));
        let nf = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(
            parse_response(nf, 100),
            Err(FetchError::Status { code: 404, .. })
        ));
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc";
        assert!(matches!(
            parse_response(short, 100),
            Err(FetchError::Truncated { .. })
        ));
    }

    #[tokio::test]
    async fn sends_host_and_basic_auth_and_reads_the_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .await
                .unwrap();
            req
        });
        let body = get(&format!("http://127.0.0.1:{port}/fw.bin"), "u", "p", 1024)
            .await
            .unwrap();
        assert_eq!(body, b"hello");
        let req = server.await.unwrap();
        assert!(req.starts_with("GET /fw.bin HTTP/1.1\r\n"), "{req}");
        assert!(req.contains(&format!("Host: 127.0.0.1:{port}\r\n")));
        // base64("u:p")
        assert!(req.contains("Authorization: Basic dTpw\r\n"), "{req}");
        assert!(req.contains("Connection: close\r\n"));
        // Nothing listens any more on that port: refused.
        let refused = get(&format!("http://127.0.0.1:{port}/x"), "", "", 10).await;
        assert!(
            matches!(refused, Err(FetchError::Connect { .. })),
            "{refused:?}"
        );
    }
}
