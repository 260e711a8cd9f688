//! The harness's own small HTTP/1.1 file server: the place an Agent under
//! test downloads firmware images from (`serve_file` steps). Files live in
//! memory, optionally behind Basic auth (RFC 7617); every request is logged
//! so the case trace shows what the Agent fetched and what it got.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request head larger than this is refused (we serve GETs only).
const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone)]
struct ServedFile {
    content: Arc<Vec<u8>>,
    /// The expected `Authorization: Basic ...` token, when protected.
    basic_token: Option<String>,
    /// How long a 200 answer waits before its head goes out: a download
    /// that stays in progress, so a case can cancel it.
    delay: std::time::Duration,
}

/// One request as the server saw it, for the case trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub peer: String,
    /// `GET /fw.bin`
    pub request: String,
    pub status: u16,
    pub bytes: usize,
}

/// A published file's URL and fingerprints, as `serve_file` captures them.
#[derive(Debug, Clone)]
pub struct Published {
    pub url: String,
    pub name: String,
    pub size: usize,
    /// Lowercase hex digests by capture name: sha1, sha256, sha384, sha512.
    pub digests: Vec<(&'static str, String)>,
}

type Files = Arc<Mutex<HashMap<String, ServedFile>>>;
type Log = Arc<Mutex<Vec<RequestLog>>>;

pub struct FileServer {
    addr: SocketAddr,
    /// `host:port` written into URLs (the bind address unless configured).
    advertise: String,
    files: Files,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl FileServer {
    /// Binds `bind` (e.g. `127.0.0.1:0`) and starts serving. `advertise`
    /// is the `host:port` URLs carry, for an Agent on another host when
    /// binding `0.0.0.0`.
    pub async fn bind(bind: &str, advertise: Option<&str>) -> std::io::Result<FileServer> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let files: Files = Arc::default();
        let log: Log = Arc::default();
        let task = tokio::spawn(accept_loop(listener, files.clone(), log.clone()));
        Ok(FileServer {
            addr,
            advertise: advertise
                .map(str::to_string)
                .unwrap_or_else(|| addr.to_string()),
            files,
            log,
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.advertise)
    }

    /// Serves `content` at `/<name>` from now on (replacing any earlier file
    /// of that name); with credentials, only to requests carrying them.
    pub fn publish(&self, name: &str, content: Vec<u8>, auth: Option<(&str, &str)>) -> Published {
        let digests = digests(&content);
        let size = content.len();
        let basic_token =
            auth.map(|(u, p)| base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}")));
        if let Ok(mut files) = self.files.lock() {
            files.insert(
                name.to_string(),
                ServedFile {
                    content: Arc::new(content),
                    basic_token,
                    delay: std::time::Duration::ZERO,
                },
            );
        }
        Published {
            url: self.url(name),
            name: name.to_string(),
            size,
            digests,
        }
    }

    /// Makes successful answers for `/<name>` wait `delay` first (the
    /// download stays in progress that long).
    pub fn set_delay(&self, name: &str, delay: std::time::Duration) {
        if let Ok(mut files) = self.files.lock() {
            if let Some(f) = files.get_mut(name) {
                f.delay = delay;
            }
        }
    }

    /// The requests served since the last call.
    pub fn take_log(&self) -> Vec<RequestLog> {
        self.log
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Lowercase hex digests of the algorithms a firmware Download() can name
/// (TR-181 CheckSumAlgorithm) that `ring` provides; SHA-224 is not among them.
pub fn digests(content: &[u8]) -> Vec<(&'static str, String)> {
    use ring::digest;
    [
        ("sha1", &digest::SHA1_FOR_LEGACY_USE_ONLY),
        ("sha256", &digest::SHA256),
        ("sha384", &digest::SHA384),
        ("sha512", &digest::SHA512),
    ]
    .into_iter()
    .map(|(name, alg)| (name, hex(digest::digest(alg, content).as_ref())))
    .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn accept_loop(listener: TcpListener, files: Files, log: Log) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(serve_one(stream, peer, files.clone(), log.clone()));
    }
}

/// One request per connection (`Connection: close`): enough for an Agent
/// fetching an image, and nothing to get wrong about keep-alive.
async fn serve_one(mut stream: TcpStream, peer: SocketAddr, files: Files, log: Log) {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            break;
        }
        match tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf)).await
        {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let (status, body, request, delay) = {
        let delay = std::cell::Cell::new(std::time::Duration::ZERO);
        let file = |name: &str| {
            let f = files.lock().ok().and_then(|f| f.get(name).cloned());
            if let Some(f) = &f {
                delay.set(f.delay);
            }
            f
        };
        let (status, body, request) = respond(&text, file);
        (status, body, request, delay.get())
    };
    if status == 200 && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status == 200 {
        out.push_str("Content-Type: application/octet-stream\r\n");
    }
    if status == 401 {
        out.push_str("WWW-Authenticate: Basic realm=\"plugfest\"\r\n");
    }
    out.push_str("\r\n");
    let is_head = request.starts_with("HEAD ");
    let _ = stream.write_all(out.as_bytes()).await;
    if !is_head {
        let _ = stream.write_all(&body).await;
    }
    let _ = stream.shutdown().await;
    if let Ok(mut l) = log.lock() {
        l.push(RequestLog {
            peer: peer.to_string(),
            request,
            status,
            bytes: if is_head { 0 } else { body.len() },
        });
    }
}

/// (status, body, request line) for a request head; pure, so it is tested
/// without sockets.
fn respond(head: &str, file: impl Fn(&str) -> Option<ServedFile>) -> (u16, Arc<Vec<u8>>, String) {
    let empty = || Arc::new(Vec::new());
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or("").to_string();
    let mut parts = first.split(' ');
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return (400, empty(), first);
    };
    let request = format!("{method} {target}");
    if method != "GET" && method != "HEAD" {
        return (405, empty(), request);
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    let Some(f) = path.strip_prefix('/').and_then(file) else {
        return (404, empty(), request);
    };
    if let Some(token) = &f.basic_token {
        let given = lines.find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_string())
        });
        let ok = given.as_deref().and_then(|v| {
            let (scheme, cred) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then(|| cred.trim() == token)
        });
        if ok != Some(true) {
            return (401, empty(), request);
        }
    }
    (200, f.content, request)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(auth: Option<&str>) -> impl Fn(&str) -> Option<ServedFile> {
        let token = auth.map(|a| base64::engine::general_purpose::STANDARD.encode(a));
        move |name: &str| {
            (name == "fw.bin").then(|| ServedFile {
                content: Arc::new(b"version=2.0\n".to_vec()),
                basic_token: token.clone(),
                delay: std::time::Duration::ZERO,
            })
        }
    }

    #[test]
    fn serves_known_files_and_refuses_the_rest() {
        let (s, body, req) = respond("GET /fw.bin HTTP/1.1\r\nHost: x\r\n\r\n", served(None));
        assert_eq!(
            (s, body.as_slice(), req.as_str()),
            (200, &b"version=2.0\n"[..], "GET /fw.bin")
        );
        assert_eq!(respond("GET /other HTTP/1.1\r\n\r\n", served(None)).0, 404);
        assert_eq!(
            respond("POST /fw.bin HTTP/1.1\r\n\r\n", served(None)).0,
            405
        );
        assert_eq!(respond("garbage\r\n\r\n", served(None)).0, 400);
        assert_eq!(
            respond("GET /fw.bin?x=1 HTTP/1.1\r\n\r\n", served(None)).0,
            200
        );
    }

    #[test]
    fn basic_auth_needs_the_right_credentials() {
        let f = || served(Some("user:secret"));
        assert_eq!(respond("GET /fw.bin HTTP/1.1\r\n\r\n", f()).0, 401);
        let good = format!(
            "GET /fw.bin HTTP/1.1\r\nauthorization: Basic {}\r\n\r\n",
            base64::engine::general_purpose::STANDARD.encode("user:secret")
        );
        assert_eq!(respond(&good, f()).0, 200);
        let bad = format!(
            "GET /fw.bin HTTP/1.1\r\nAuthorization: Basic {}\r\n\r\n",
            base64::engine::general_purpose::STANDARD.encode("user:wrong")
        );
        assert_eq!(respond(&bad, f()).0, 401);
    }

    #[test]
    fn digests_are_the_known_values() {
        // FIPS 180 test vector "abc".
        let d = digests(b"abc");
        let get = |n| d.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert_eq!(
            get("sha256").as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            get("sha1").as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
    }

    /// A real GET over loopback: the body, the 401 without credentials, and
    /// the log entries for both.
    #[tokio::test]
    async fn serves_over_tcp_and_logs() {
        let server = FileServer::bind("127.0.0.1:0", None).await.unwrap();
        let p = server.publish("fw.bin", b"version=2.0\nxyz".to_vec(), None);
        assert_eq!(p.url, format!("http://{}/fw.bin", server.local_addr()));
        assert_eq!(p.size, 15);
        server.publish("secret.bin", b"s".to_vec(), Some(("u", "p")));
        let get = |path: &'static str, auth: Option<&'static str>| {
            let addr = server.local_addr();
            async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                let mut req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n");
                if let Some(a) = auth {
                    let t = base64::engine::general_purpose::STANDARD.encode(a);
                    req.push_str(&format!("Authorization: Basic {t}\r\n"));
                }
                req.push_str("\r\n");
                s.write_all(req.as_bytes()).await.unwrap();
                let mut out = Vec::new();
                s.read_to_end(&mut out).await.unwrap();
                String::from_utf8_lossy(&out).to_string()
            }
        };
        let ok = get("/fw.bin", None).await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nversion=2.0\nxyz"), "{ok}");
        let denied = get("/secret.bin", None).await;
        assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");
        let allowed = get("/secret.bin", Some("u:p")).await;
        assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
        let log = server.take_log();
        let statuses: Vec<u16> = log.iter().map(|l| l.status).collect();
        assert_eq!(statuses, vec![200, 401, 200]);
        assert_eq!(log[0].request, "GET /fw.bin");
        assert!(server.take_log().is_empty());
    }
}
