//! The UDS server role: binds a socket path, accepts clients and runs each
//! one's Handshake on its own task, so a client that never speaks cannot
//! hold up the next one for the whole handshake timeout.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::frame::Tlv;
use super::{UdsConnection, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::mtp::{MtpConnection, MtpConnector, MtpError};

/// Connections whose Handshake completed while nobody was asking for one.
const READY_QUEUE: usize = 8;

pub struct UdsListener {
    path: PathBuf,
    /// (device, inode) of the socket file we created, so Drop removes only ours.
    file_id: Option<(u64, u64)>,
    own_eid: String,
    handshake_timeout: Duration,
    /// Until the first `establish`, which starts the accept task.
    listener: Option<UnixListener>,
    ready: Option<mpsc::Receiver<UdsConnection>>,
    accept_task: Option<JoinHandle<()>>,
    last_problem: Arc<Mutex<Option<String>>>,
}

impl UdsListener {
    /// Binds `path`, first removing a stale socket file left by an earlier
    /// run (a regular file there is an error, not something to delete).
    pub fn bind(path: impl AsRef<Path>, own_eid: &str) -> Result<Self, MtpError> {
        let path = path.as_ref().to_path_buf();
        let cannot = |reason: String| MtpError::Connect {
            address: path.display().to_string(),
            reason,
        };
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if !meta.file_type().is_socket() {
                return Err(cannot("a file that is not a socket is in the way".into()));
            }
            std::fs::remove_file(&path).map_err(|e| cannot(format!("stale socket: {e}")))?;
        }
        let listener =
            UnixListener::bind(&path).map_err(|e| cannot(format!("cannot bind: {e}")))?;
        let file_id = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        Ok(UdsListener {
            path,
            file_id,
            own_eid: own_eid.to_string(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            listener: Some(listener),
            ready: None,
            accept_task: None,
            last_problem: Arc::new(Mutex::new(None)),
        })
    }

    /// How long a client may take to send its Handshake (default 30 s).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn start(&mut self) -> Option<mpsc::Receiver<UdsConnection>> {
        let listener = self.listener.take()?;
        let (tx, rx) = mpsc::channel(READY_QUEUE);
        let problem = self.last_problem.clone();
        let own_eid = self.own_eid.clone();
        let timeout = self.handshake_timeout;
        let address = self.path.display().to_string();
        self.accept_task = Some(tokio::spawn(async move {
            while !tx.is_closed() {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // e.g. out of file descriptors: worth another try.
                        note(&problem, format!("accept failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (tx, problem) = (tx.clone(), problem.clone());
                let (own_eid, address) = (own_eid.clone(), address.clone());
                tokio::spawn(async move {
                    match handshake(stream, address, own_eid, timeout).await {
                        Ok(conn) => {
                            let _ = tx.send(conn).await;
                        }
                        Err(e) => note(&problem, e.to_string()),
                    }
                });
            }
        }));
        Some(rx)
    }
}

fn note(problem: &Mutex<Option<String>>, what: String) {
    if let Ok(mut p) = problem.lock() {
        *p = Some(what);
    }
}

/// The server's half of the Handshake: the client speaks first, then we
/// answer with our own Endpoint ID.
async fn handshake(
    stream: UnixStream,
    address: String,
    own_eid: String,
    timeout: Duration,
) -> Result<UdsConnection, MtpError> {
    let mut conn = UdsConnection::new(stream, address);
    let eid = conn.await_handshake(timeout).await?;
    conn.peer.endpoint_id = Some(eid);
    conn.write_frame(Tlv::Handshake(own_eid)).await?;
    Ok(conn)
}

impl Drop for UdsListener {
    fn drop(&mut self) {
        if let Some(task) = self.accept_task.take() {
            task.abort();
        }
        let still_ours = std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        if still_ours.is_some() && still_ours == self.file_id {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[async_trait]
impl MtpConnector for UdsListener {
    /// Cancel-safe: a connection that completes while nobody waits stays queued.
    async fn establish(&mut self) -> Result<Box<dyn MtpConnection>, MtpError> {
        if self.ready.is_none() {
            self.ready = self.start();
        }
        let Some(ready) = self.ready.as_mut() else {
            return Err(MtpError::Io("the UDS listener is not running".into()));
        };
        match ready.recv().await {
            Some(conn) => Ok(Box::new(conn)),
            None => Err(MtpError::Io(format!(
                "the UDS listener on {} stopped",
                self.path.display()
            ))),
        }
    }

    fn describe(&self) -> String {
        format!("UDS server on {}", self.path.display())
    }

    fn last_problem(&self) -> Option<String> {
        self.last_problem.lock().ok().and_then(|p| p.clone())
    }
}
