//! A private mosquitto (MQTT 3.1.1 and 5 broker) on a free 127.0.0.1 port:
//! a generated config file, the child owned before readiness is polled (so
//! a failed start never leaks a broker), killed on drop.

use std::fs::File;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
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

/// A running mosquitto; stopped (killed and reaped) on drop.
pub struct Mosquitto {
    child: Child,
    address: SocketAddr,
    dir: PathBuf,
}

impl Mosquitto {
    /// Starts mosquitto on a free loopback port and waits until it accepts
    /// TCP connections.
    pub fn start() -> Result<Mosquitto, BrokerError> {
        Self::start_with(true)
    }

    /// A broker that refuses anonymous clients and knows no user at all, so
    /// every CONNECT is refused (R-MQTT.7 credentials, tested from the
    /// refusing side).
    pub fn start_refusing_everyone() -> Result<Mosquitto, BrokerError> {
        Self::start_with(false)
    }

    fn start_with(allow_anonymous: bool) -> Result<Mosquitto, BrokerError> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            match Self::start_once(allow_anonymous) {
                Ok(m) => return Ok(m),
                Err(e @ BrokerError::NotInstalled) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| BrokerError::Spawn("no attempt was made".into())))
    }

    fn start_once(allow_anonymous: bool) -> Result<Mosquitto, BrokerError> {
        let port = free_port().map_err(|e| BrokerError::Spawn(format!("no free port: {e}")))?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = private_dir().map_err(|e| BrokerError::Spawn(e.to_string()))?;
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log");
        // Loopback only, anonymous (the harness's own broker), nothing on
        // disk; Nagle off so small PUBLISH/PUBACK chains are not delayed.
        let text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous {allow_anonymous}\npersistence false\nlog_dest stderr\nset_tcp_nodelay true\n"
        );
        let io = |e: std::io::Error| BrokerError::Spawn(e.to_string());
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
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
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
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Ends the broker abruptly (SIGKILL), as a crash would: for tests of a
    /// broker lost in the middle of a run.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
