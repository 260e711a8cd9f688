//! A private RabbitMQ with its STOMP plugin on 127.0.0.1, for loopback runs
//! and tests: own base directory and ports, its own epmd, the server run as
//! the `rabbitmq` user without the system service, stopped on drop. It can
//! also listen for STOMP over TLS (R-STOMP.36) with PEMs from a `TestCa`.

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::mtp::stomp::frame::{Decoder, Frame};
use crate::mtp::tls::pki::TestCa;
use crate::mtp::tls::TlsError;

const BIN: &str = "/usr/lib/rabbitmq/bin";
const INSTALL_HINT: &str = "RabbitMQ is not installed (no /usr/lib/rabbitmq/bin/rabbitmq-server); install it with `apt-get install -y --no-install-recommends rabbitmq-server` (the service need not run)";
/// RabbitMQ needs about 4 s; a loaded CI machine may need several times that.
const READY_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("{0}")]
    NotInstalled(&'static str),
    #[error("cannot prepare RabbitMQ: {0}")]
    Setup(String),
    #[error("RabbitMQ did not accept a STOMP connection within {seconds} s: {last}; its output ended with:\n{output}")]
    NotReady {
        seconds: u64,
        last: String,
        output: String,
    },
}

/// The PEMs of the broker's TLS listener: the CA, and the broker's
/// certificate and key (written to the broker's private directory only).
pub struct BrokerTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl BrokerTls {
    /// A broker certificate issued by `ca`, valid for 127.0.0.1 and localhost.
    pub fn issued_by(ca: &TestCa) -> Result<BrokerTls, TlsError> {
        let cert = ca.issue("proto::plugfest-stomp-broker")?;
        Ok(BrokerTls {
            ca_pem: ca.cert_pem().to_string(),
            cert_pem: cert.cert_pem,
            key_pem: cert.key_pem,
        })
    }
}

/// A running broker; dropping it stops the server and its epmd.
pub struct RabbitMq {
    stomp_port: u16,
    stomp_tls_port: Option<u16>,
    base: PathBuf,
    env: Vec<(String, String)>,
    server: Option<Child>,
    epmd: Option<Child>,
    as_rabbitmq_user: bool,
}

fn free_port() -> Result<u16, BrokerError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BrokerError::Setup(format!("no free port on 127.0.0.1: {e}")))
}

fn setup(e: impl std::fmt::Display) -> BrokerError {
    BrokerError::Setup(e.to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl RabbitMq {
    /// Starts a broker and waits (bounded) until it answers a STOMP CONNECT.
    pub fn start() -> Result<RabbitMq, BrokerError> {
        Self::start_with(None)
    }

    /// Also listens for STOMP over TLS with `tls`'s certificate.
    pub fn start_with_tls(tls: &BrokerTls) -> Result<RabbitMq, BrokerError> {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<&BrokerTls>) -> Result<RabbitMq, BrokerError> {
        if !Path::new(BIN).join("rabbitmq-server").exists() {
            return Err(BrokerError::NotInstalled(INSTALL_HINT));
        }
        let (amqp, stomp, dist, epmd_port) =
            (free_port()?, free_port()?, free_port()?, free_port()?);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let base = std::env::temp_dir().join(format!(
            "usp-plugfest-rabbitmq-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(base.join("mnesia")).map_err(setup)?;
        fs::create_dir_all(base.join("log")).map_err(setup)?;
        let mut conf = format!(
            "listeners.tcp.default = 127.0.0.1:{amqp}\nstomp.listeners.tcp.1 = 127.0.0.1:{stomp}\nloopback_users.guest = true\n"
        );
        let stomp_tls_port = match tls {
            None => None,
            Some(t) => {
                let port = free_port()?;
                for (file, pem) in [
                    ("ca.pem", &t.ca_pem),
                    ("broker.pem", &t.cert_pem),
                    ("broker.key", &t.key_pem),
                ] {
                    fs::write(base.join(file), pem).map_err(setup)?;
                }
                let f = |p: &str| base.join(p).display().to_string();
                // R-STOMP.36: TLS 1.2 or later only. Clients authenticate
                // with login/passcode, so no client certificate is asked for.
                conf.push_str(&format!(
                    "stomp.listeners.ssl.1 = 127.0.0.1:{port}\nssl_options.cacertfile = {}\nssl_options.certfile = {}\nssl_options.keyfile = {}\nssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\nssl_options.versions.1 = tlsv1.3\nssl_options.versions.2 = tlsv1.2\n",
                    f("ca.pem"),
                    f("broker.pem"),
                    f("broker.key")
                ));
                Some(port)
            }
        };
        fs::write(base.join("rabbitmq.conf"), conf).map_err(setup)?;
        let b = |p: &str| base.join(p).display().to_string();
        let env = vec![
            ("HOME".to_string(), b("")),
            ("RABBITMQ_CONFIG_FILE".into(), b("rabbitmq.conf")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE".into(), b("enabled_plugins")),
            ("RABBITMQ_MNESIA_BASE".into(), b("mnesia")),
            ("RABBITMQ_LOG_BASE".into(), b("log")),
            ("RABBITMQ_NODENAME".into(), "rabbit@localhost".into()),
            ("RABBITMQ_NODE_IP_ADDRESS".into(), "127.0.0.1".into()),
            ("ERL_EPMD_ADDRESS".into(), "127.0.0.1".into()),
            // A private epmd per broker: brokers of parallel test binaries
            // then never see each other's node names.
            ("ERL_EPMD_PORT".into(), epmd_port.to_string()),
            ("RABBITMQ_DIST_PORT".into(), dist.to_string()),
            (
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS".into(),
                "-kernel inet_dist_use_interface {127,0,0,1}".into(),
            ),
        ];
        let as_rabbitmq_user = is_root();
        let mut broker = RabbitMq {
            stomp_port: stomp,
            stomp_tls_port,
            base,
            env,
            server: None,
            epmd: None,
            as_rabbitmq_user,
        };
        if as_rabbitmq_user {
            // The server runs as `rabbitmq` and writes here (brokers.md, step 1).
            let status = Command::new("chown")
                .args(["-R", "rabbitmq:rabbitmq"])
                .arg(&broker.base)
                .status()
                .map_err(setup)?;
            if !status.success() {
                return Err(setup("chown of the base directory to rabbitmq failed"));
            }
        }
        // Our own epmd, started before the node so the node does not spawn
        // a daemon we could not find again.
        broker.epmd = Some(
            Command::new("epmd")
                .args(["-port", &epmd_port.to_string(), "-address", "127.0.0.1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| setup(format!("cannot start epmd: {e}")))?,
        );
        let enable = broker
            .command("rabbitmq-plugins enable --offline rabbitmq_stomp")
            .output()
            .map_err(setup)?;
        if !enable.status.success() {
            return Err(setup(format!(
                "rabbitmq-plugins enable --offline rabbitmq_stomp failed: {}",
                String::from_utf8_lossy(&enable.stderr).trim()
            )));
        }
        let out = fs::File::create(broker.base.join("server.out")).map_err(setup)?;
        let err = out.try_clone().map_err(setup)?;
        let mut server = broker.command("rabbitmq-server");
        // Its own process group, so a forced stop reaches runuser, the
        // shell and the Erlang VM alike.
        server
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        // Owned before polling, so a readiness timeout still stops it.
        broker.server = Some(server.spawn().map_err(setup)?);
        broker.wait_ready()?;
        Ok(broker)
    }

    /// `sh -c` with the broker's environment, as `rabbitmq` when we are root
    /// (the `/usr/sbin` wrappers would drop the environment, brokers.md).
    fn command(&self, script: &str) -> Command {
        let exports: String = self
            .env
            .iter()
            .map(|(k, v)| format!("export {k}='{v}'; "))
            .collect();
        let line = format!("{exports}cd \"$HOME\"; exec {BIN}/{script}");
        let mut cmd = if self.as_rabbitmq_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "rabbitmq", "--", "sh", "-c", &line]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &line]);
            c
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `127.0.0.1:<port>` of the STOMP listener.
    pub fn stomp_address(&self) -> String {
        format!("127.0.0.1:{}", self.stomp_port)
    }

    /// `127.0.0.1:<port>` of the STOMP-over-TLS listener, when started with TLS.
    pub fn stomp_tls_address(&self) -> Option<String> {
        self.stomp_tls_port.map(|p| format!("127.0.0.1:{p}"))
    }

    /// Ends the broker abruptly (SIGKILL to its process group), as a crash
    /// would: for tests of a broker lost in the middle of a run.
    pub fn kill(&mut self) {
        if let Some(server) = self.server.as_mut() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", server.id())])
                .status();
            let _ = server.wait();
        }
        self.server = None;
    }

    fn wait_ready(&mut self) -> Result<(), BrokerError> {
        let start = Instant::now();
        let mut last = String::from("no attempt yet");
        while start.elapsed() < READY_WITHIN {
            if let Some(server) = self.server.as_mut() {
                if let Ok(Some(status)) = server.try_wait() {
                    last = format!("the server exited ({status})");
                    break;
                }
            }
            // The TLS listener comes up with the plugin; it must accept too.
            let tls_listening = self
                .stomp_tls_port
                .is_none_or(|p| TcpStream::connect(("127.0.0.1", p)).is_ok());
            match stomp_probe(&self.stomp_address()) {
                Ok(()) if tls_listening => return Ok(()),
                Ok(()) => last = "the STOMP TLS listener does not accept yet".into(),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // The base directory goes away with the broker: quote the output.
        let output = fs::read_to_string(self.base.join("server.out")).unwrap_or_default();
        let tail: Vec<&str> = output.lines().rev().take(15).collect();
        Err(BrokerError::NotReady {
            seconds: start.elapsed().as_secs(),
            last,
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        })
    }

    /// Stops the broker (also done on drop).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(mut server) = self.server.take() {
            // A clean stop first; the process group is the fallback.
            let _ = self
                .command("rabbitmqctl stop")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = server.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if let Ok(None) = server.try_wait() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", server.id())])
                    .status();
                let _ = server.wait();
            }
        }
        if let Some(mut epmd) = self.epmd.take() {
            let _ = epmd.kill();
            let _ = epmd.wait();
        }
        let _ = fs::remove_dir_all(&self.base);
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One STOMP CONNECT as guest; `Ok` once CONNECTED with version 1.2 comes back.
fn stomp_probe(address: &str) -> Result<(), String> {
    let mut tcp = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let hello = Frame::new("CONNECT")
        .header("accept-version", "1.2")
        .header("host", "/")
        .header("login", "guest")
        .header("passcode", "guest");
    tcp.write_all(&hello.encode()).map_err(|e| e.to_string())?;
    let mut decoder = Decoder::default();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(frame) = decoder.next_frame().map_err(|e| e.to_string())? {
            let _ = tcp.write_all(&Frame::new("DISCONNECT").encode());
            return match (frame.command.as_str(), frame.get("version")) {
                ("CONNECTED", Some("1.2")) => Ok(()),
                (cmd, version) => Err(format!("answered {cmd} (version {version:?})")),
            };
        }
        let n = tcp.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before CONNECTED".into());
        }
        decoder.push(&chunk[..n]);
    }
}
