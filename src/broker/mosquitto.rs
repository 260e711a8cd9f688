//! A private mosquitto (MQTT 3.1.1 and 5 broker) on a free 127.0.0.1 port:
//! a generated config file, the child owned before readiness is polled (so
//! a failed start never leaks a broker), killed on drop. Optionally a second,
//! TLS listener with PEMs written to the broker's private directory.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long mosquitto may take to accept connections (it needs ~60 ms).
const READY_WITHIN: Duration = Duration::from_secs(5);
/// A free port can be taken between our probe and mosquitto's bind.
const ATTEMPTS: usize = 3;

pub const INSTALL_HINT: &str =
    "mosquitto is not installed (not on PATH); install it with `apt-get install mosquitto` (Debian/Ubuntu)";

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("{INSTALL_HINT}")]
    NotInstalled,
    #[error("cannot start mosquitto: {0}")]
    Spawn(String),
    #[error(
        "mosquitto did not accept connections on {address} within {waited_ms} ms; its log:\n{log}"
    )]
    NotReady {
        address: String,
        waited_ms: u128,
        log: String,
    },
}

/// PEMs for a TLS listener (e.g. from `mtp::tls::pki::TestCa`).
#[derive(Clone)]
pub struct MosquittoTls {
    /// The CA that client certificates must chain to.
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// Refuse clients without a certificate from `ca_pem`.
    pub require_certificate: bool,
}

/// A running mosquitto; stopped (killed and reaped) on drop.
pub struct Mosquitto {
    child: Child,
    address: SocketAddr,
    tls_address: Option<SocketAddr>,
    dir: PathBuf,
}

impl Mosquitto {
    /// Starts mosquitto on a free loopback port and waits until it accepts
    /// TCP connections.
    pub fn start() -> Result<Mosquitto, BrokerError> {
        Self::start_with(None, true)
    }

    /// Starts mosquitto with a plain listener and a TLS listener (R-MQTT.48:
    /// mosquitto offers TLS 1.2 and 1.3 by default).
    pub fn start_tls(tls: &MosquittoTls) -> Result<Mosquitto, BrokerError> {
        Self::start_with(Some(tls), true)
    }

    /// A broker that refuses anonymous clients and knows no user at all, so
    /// every CONNECT is refused (R-MQTT.7 credentials, tested from the
    /// refusing side).
    pub fn start_refusing_everyone() -> Result<Mosquitto, BrokerError> {
        Self::start_with(None, false)
    }

    fn start_with(
        tls: Option<&MosquittoTls>,
        allow_anonymous: bool,
    ) -> Result<Mosquitto, BrokerError> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match Self::start_once(tls, allow_anonymous) {
                Ok(m) => return Ok(m),
                Err(e @ BrokerError::NotInstalled) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BrokerError::Spawn("no attempt was made".into())))
    }

    fn start_once(
        tls: Option<&MosquittoTls>,
        allow_anonymous: bool,
    ) -> Result<Mosquitto, BrokerError> {
        let no_port = |e: std::io::Error| BrokerError::Spawn(format!("no free port: {e}"));
        let port = free_port().map_err(no_port)?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let tls_port = match tls {
            Some(_) => Some(free_port().map_err(no_port)?),
            None => None,
        };
        let dir = private_dir().map_err(|e| BrokerError::Spawn(e.to_string()))?;
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log");
        // Loopback only, anonymous (the harness's own broker), nothing on
        // disk; Nagle off so small PUBLISH/PUBACK chains are not delayed;
        // no cap on clients (`plugfest bench --mtp mqtt` puts 2,000 on one
        // broker; its file descriptors are bounded by the fd limit it
        // inherits from us).
        let mut text = format!(
            "listener {port} 127.0.0.1\nmax_connections -1\nallow_anonymous {allow_anonymous}\npersistence false\nlog_dest stderr\nset_tcp_nodelay true\n"
        );
        let io = |e: std::io::Error| BrokerError::Spawn(e.to_string());
        if let (Some(tls), Some(tls_port)) = (tls, tls_port) {
            text.push_str(&tls_listener(&dir, tls_port, tls).map_err(io)?);
        }
        std::fs::write(&conf, text).map_err(io)?;
        // The log goes to a file we opened: mosquitto may drop root
        // privileges and could not open it itself, and a pipe nobody reads
        // would stall it once full.
        let out = File::create(&log).map_err(io)?;
        let err = out.try_clone().map_err(io)?;
        let child = match Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(BrokerError::NotInstalled);
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(BrokerError::Spawn(e.to_string()));
            }
        };
        // Owned from here on: an early return drops (kills) it.
        let mut broker = Mosquitto {
            child,
            address,
            tls_address: tls_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            dir,
        };
        broker.wait_ready()?;
        Ok(broker)
    }

    fn wait_ready(&mut self) -> Result<(), BrokerError> {
        let started = Instant::now();
        while started.elapsed() < READY_WITHIN {
            if let Ok(Some(_status)) = self.child.try_wait() {
                break;
            }
            let accepts =
                |a: &SocketAddr| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok();
            if accepts(&self.address) && self.tls_address.as_ref().is_none_or(accepts) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(BrokerError::NotReady {
            address: self.address.to_string(),
            waited_ms: started.elapsed().as_millis(),
            log: std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default(),
        })
    }

    /// `127.0.0.1:PORT`, as MQTT clients are configured.
    /// The broker's process id (`plugfest bench` reads its peak memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn address(&self) -> String {
        self.address.to_string()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// `127.0.0.1:PORT` of the TLS listener, when started with one.
    pub fn tls_address(&self) -> Option<String> {
        self.tls_address.map(|a| a.to_string())
    }

    /// Ends the broker abruptly (SIGKILL), as a crash would: for tests of a
    /// broker lost in the middle of a run.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the PEMs (the key readable by us only) and returns the listener's
/// configuration lines.
fn tls_listener(dir: &Path, port: u16, tls: &MosquittoTls) -> std::io::Result<String> {
    let ca = dir.join("ca.pem");
    let cert = dir.join("broker.pem");
    let key = dir.join("broker.key");
    std::fs::write(&ca, &tls.ca_pem)?;
    std::fs::write(&cert, &tls.cert_pem)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key)?
        .write_all(tls.key_pem.as_bytes())?;
    Ok(format!(
        // mosquitto 2.0 drops root privileges before it reads the PEMs, and
        // our private directory is ours alone: run as root, keep our user
        // (`user` is ignored when not started as root).
        "user root\nlistener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {}\n",
        ca.display(),
        cert.display(),
        key.display(),
        tls.require_certificate
    ))
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh directory for one broker's config and log.
fn private_dir() -> std::io::Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "plugfest-mosquitto-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    // Private: it may hold a TLS key.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}
