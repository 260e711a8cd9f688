//! Runs the reference Agent over a real MTP: the transport loop around the
//! sans-I/O `Agent`, for any `MtpConnector`. It sends the MTP's Connect
//! Record first (R-MTP.6), applies the transport-level faults, closes with
//! 1003 on frames it cannot use (R-WS.16; on UDS the close reason goes out
//! as an Error TLV instead), ignores undecodable Records on MQTT, STOMP and
//! CoAP (R-MTP.5; CoAP has already answered 4.00), ignores Records for other
//! endpoints (R-E2E.1) and, as the dialing side, reconnects after a drop.
//! Each connection's task also sends the Notifys no request caused (a channel per
//! connection), ticks the core's timers, and carries out its Effects: HTTP fetches
//! for Download() and reboots (drop every connection, restart delay, come back).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Mutex};

mod e2e;
mod effects;

pub use e2e::DEFAULT_SEGMENT_SIZE;

use super::effects::Clock;
use super::faults::{Fault, FaultSet};
use super::Agent;
use crate::discovery::dhcp::client::{self as dhcp_client, BootDhcp, VendorClass};
use crate::mtp::backoff::{Backoff, BackoffError};
use crate::mtp::{Inbound, ModelRow, ModelView, MtpConnection, MtpConnector};
use crate::usp::e2e::tls::Identity;
use crate::usp::msg;
use crate::usp::proto::msg::Msg;
use crate::usp::proto::record::record::PayloadSecurity;
use crate::usp::record::integrity::{self, NonPayload, Signer};
use crate::usp::record::{self, RecordError, RecordRef};

/// Bytes that are not a protobuf Record: field 1 claims a 127-byte string
/// that never comes.
const GARBAGE: &[u8] = b"\x0a\x7fnot a USP record";
/// Where the `wrong-to-id` fault sends its answers.
const SOMEBODY_ELSE: &str = "proto::somebody-else";
/// WebSocket close status for data that cannot be accepted (R-WS.16).
const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
/// The status the `wrong-close-code` fault closes with instead (1007,
/// "invalid frame payload data", which some WebSocket libraries pick).
const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// WebSocket close status of a normal closure (the Agent reboots).
const CLOSE_NORMAL: u16 = 1000;
/// How often the core is told that time has passed (Periodic!, TimeToLive).
const TICK: Duration = Duration::from_millis(100);
/// How often a dialer's connector re-reads the model while connected.
const FOLLOW_MODEL: Duration = Duration::from_millis(200);
/// How long the Agent is away when it reboots, unless configured.
pub const DEFAULT_RESTART_DELAY: Duration = Duration::from_millis(300);

/// What a connection's task is asked to do besides answering requests.
enum Outgoing {
    /// A Notify no request on this connection caused.
    Notify(Msg),
    /// Close the connection (the Agent reboots).
    Close,
    /// Close the connection: a newer WebSocket session from the same
    /// Controller replaces it (R-WS.4).
    Superseded,
}

/// State shared by every connection of one Agent.
struct Shared {
    /// Live connections: id → (Controller Endpoint ID, channel to its task).
    routes: std::sync::Mutex<HashMap<u64, (String, mpsc::UnboundedSender<Outgoing>)>>,
    next_conn: AtomicU64,
    /// false while the Agent is rebooting: no dialing, no accepting.
    up: watch::Sender<bool>,
    /// The Agent's signing identity (mac_signature), made when a
    /// Controller first signs.
    /// None when no key could be made (the Agent then answers unsigned).
    signer: std::sync::OnceLock<Option<(Identity, Arc<Signer>)>>,
}

#[derive(Clone)]
pub struct AgentHost {
    agent: Arc<Mutex<Agent>>,
    endpoint_id: String,
    faults: FaultSet,
    log: bool,
    restart_delay: Duration,
    protocol: Option<String>,
    /// Payload bytes per E2E SessionContextRecord (SAR).
    e2e_segment_size: usize,
    /// False: booted without absolute time (TP-469 2.6's setup).
    absolute_time: bool,
    /// Where the dialer's back-off parameters live in the model.
    backoff: Option<BackoffSource>,
    /// `--dhcp IFACE`: at every boot a DHCP lease says where the
    /// Controller is (R-DIS.1).
    boot_dhcp: Option<Arc<BootDhcp>>,
    /// A Controller URL whose host is a `.local.` name: resolved with mDNS
    /// at every boot (TP-469 8.4).
    boot_local_url: Option<String>,
    shared: Arc<Shared>,
}

impl AgentHost {
    pub fn new(agent: Agent, faults: FaultSet) -> Self {
        AgentHost {
            endpoint_id: agent.endpoint_id().to_string(),
            agent: Arc::new(Mutex::new(agent)),
            faults,
            log: false,
            restart_delay: DEFAULT_RESTART_DELAY,
            protocol: None,
            e2e_segment_size: DEFAULT_SEGMENT_SIZE,
            absolute_time: true,
            backoff: None,
            boot_dhcp: None,
            boot_local_url: None,
            shared: Arc::new(Shared {
                routes: Default::default(),
                next_conn: AtomicU64::new(1),
                signer: Default::default(),
                up: watch::Sender::new(true),
            }),
        }
    }

    /// The faults this Agent commits, so that whoever builds its transport
    /// can switch on the binding-level ones.
    pub fn faults(&self) -> &FaultSet {
        &self.faults
    }

    /// Print one line per connection event on stderr (standalone `plugfest agent`).
    pub fn with_log(mut self, log: bool) -> Self {
        self.log = log;
        self
    }

    /// How long a reboot keeps the Agent away (default 300 ms).
    pub fn with_restart_delay(mut self, delay: Duration) -> Self {
        self.restart_delay = delay;
        self
    }

    /// The `MTP.{i}.Protocol` to report (CoAP, WebSocket, MQTT, STOMP, UDS); by
    /// default the label of the connection's MTP.
    pub fn with_protocol(mut self, protocol: &str) -> Self {
        self.protocol = Some(protocol.to_string());
        self
    }

    /// After a failed connection attempt, wait as the back-off parameters
    /// in the Agent's own model say (e.g. `BackoffSource::Mqtt`), not the
    /// dialer's fixed retry interval.
    pub fn with_backoff(mut self, source: BackoffSource) -> Self {
        self.backoff = Some(source);
        self
    }

    /// At every boot, before dialing, ask for a DHCP lease and follow its
    /// option 125 (the Controller's URL, ProvisioningCode, notify retry
    /// parameters).
    pub fn with_boot_dhcp(mut self, dhcp: BootDhcp) -> Self {
        self.boot_dhcp = Some(Arc::new(dhcp));
        self
    }

    /// At every boot, before dialing, resolve the `.local.` host of `url`
    /// with mDNS and dial the address found.
    pub fn with_boot_local_url(mut self, url: &str) -> Self {
        self.boot_local_url = Some(url.to_string());
        self
    }

    /// Payload bytes per Record when answering in an E2E session context
    /// (default `DEFAULT_SEGMENT_SIZE`; 0 = never segment).
    pub fn with_e2e_segment_size(mut self, size: usize) -> Self {
        self.e2e_segment_size = size;
        self
    }

    /// An Agent without absolute time (no time source at boot): it ignores
    /// the validity dates of certificates (R-MTP.2/3, TP-469 2.6).
    pub fn without_absolute_time(mut self) -> Self {
        self.absolute_time = false;
        self
    }

    /// Writes a parameter of the Agent's model before it runs, e.g. the
    /// STOMP destination its transport was given
    /// (`LocalAgent.MTP.1.STOMP.Destination`), so the model says what the
    /// Agent does.
    pub async fn put_param(&self, obj: &str, name: &str, value: &str) {
        self.agent.lock().await.model.put(obj, name, value);
    }

    /// A Record's mac_signature, if it has one: a signature that does not
    /// verify, or a sender_cert naming someone else, gets the Record
    /// dropped silently and the E2E context started over (spec E2E
    /// "Integrity", R-SEC.0a). While the Controller signs, so does the
    /// Agent. No signature is not a failure: the Agent asks for none
    /// (PLAINTEXT over an unprotected MTP is what Agents in the field take).
    fn integrity_holds(&self, rec: &RecordRef, e2e: &mut e2e::AgentE2e) -> bool {
        let session_id = rec.session_context().map(|sc| sc.session_id);
        // An HMAC comes without sender_cert; a Record with one is signed.
        let hmac_key = rec
            .sender_cert
            .is_empty()
            .then(|| e2e.peer_mac_key(rec.payload_security, session_id))
            .flatten();
        if let Some(key) = hmac_key {
            // After the TLS handshake: the HMAC under the Controller's key
            // (none is taken, as unsigned PLAINTEXT is).
            if rec.mac_signature.is_empty()
                || integrity::verify_hmac(&NonPayload::from(rec), &rec.mac_signature, &key).is_ok()
                || self.faults.contains(Fault::E2eIntegrityUnchecked)
            {
                return true;
            }
            self.say(format!(
                "dropping a Record from '{}': its HMAC does not verify ({})",
                rec.from_id,
                integrity::RULE_HMAC
            ));
            e2e.drop_context();
            return false;
        }
        if rec.payload_security == PayloadSecurity::Tls12 as i32 && e2e.tls_identity.is_none() {
            e2e.tls_identity = self.tls_identity();
        }
        if rec.mac_signature.is_empty() {
            e2e.signing = None;
            return true;
        }
        match integrity::verify(&NonPayload::from(rec), &rec.mac_signature) {
            Err(e) if !self.faults.contains(Fault::E2eIntegrityUnchecked) => {
                self.say(format!(
                    "dropping a Record from '{}': {e} ({})",
                    rec.from_id,
                    integrity::RULE
                ));
                e2e.drop_context();
                false
            }
            _ => {
                e2e.signing = self.own_identity().map(|(_, s)| s);
                true
            }
        }
    }

    /// The Agent's certificate naming its Endpoint ID and the signer with
    /// its key, made once; None when no key could be made.
    fn own_identity(&self) -> Option<(Identity, Arc<Signer>)> {
        self.shared
            .signer
            .get_or_init(|| {
                let id = Identity::self_signed(&self.endpoint_id).ok()?;
                let signer = Signer::from_identity(&id)
                    .inspect_err(|e| self.say(format!("answering unsigned: {e}")))
                    .ok()?;
                Some((id, Arc::new(signer)))
            })
            .clone()
    }

    /// What the Agent shows in a TLS12 context: its own certificate, or
    /// one naming someone else (`e2e-tls-certificate-names-another`).
    fn tls_identity(&self) -> Option<Arc<e2e::TlsIdentity>> {
        let (own, signer) = self.own_identity()?;
        let shown = if self.faults.contains(Fault::E2eTlsCertificateNamesAnother) {
            Identity::self_signed(&format!("{}-not-me", self.endpoint_id)).ok()?
        } else {
            own
        };
        Some(Arc::new(e2e::TlsIdentity { shown, signer }))
    }

    fn say(&self, line: impl AsRef<str>) {
        if self.log {
            eprintln!("agent {}: {}", self.endpoint_id, line.as_ref());
        }
    }

    /// The Agent's up (true) / rebooting (false) state, to follow.
    pub fn up_state(&self) -> watch::Receiver<bool> {
        self.shared.up.subscribe()
    }

    /// Waits while the Agent is rebooting.
    async fn wait_up(&self) {
        let mut up = self.shared.up.subscribe();
        let _ = up.wait_for(|u| *u).await;
    }

    fn is_up(&self) -> bool {
        *self.shared.up.borrow()
    }

    /// As the side that dials (a WebSocket client, a UDS client, a broker
    /// client): connect, serve, and reconnect after `retry` whenever the
    /// connection drops; after a failed attempt, after `retry` too, or a
    /// wait from the back-off parameters in the model (`with_backoff`);
    /// after a reboot, as soon as the Agent is back. Runs until the task
    /// is dropped.
    pub async fn run_dialer(
        self,
        mut connector: impl MtpConnector,
        controller_id: Option<String>,
        retry: Duration,
    ) {
        // Failed attempts since the last connection that worked: the
        // back-off's retry count (reset by a successful connect).
        let mut failures = 0u32;
        let mut booting = true;
        loop {
            self.wait_up().await;
            if std::mem::take(&mut booting) {
                if let Some(dhcp) = self.boot_dhcp.clone() {
                    self.follow_dhcp(&dhcp, &mut connector, controller_id.as_deref())
                        .await;
                }
                if let Some(url) = self.boot_local_url.clone() {
                    self.follow_local_name(&url, &mut connector).await;
                }
            }
            {
                let agent = self.agent.lock().await;
                connector.configure(&AgentModel(&agent));
            }
            let wait = match connector.establish().await {
                Ok(conn) => {
                    failures = 0;
                    self.say(format!("connected: {}", connector.describe()));
                    let controller = controller_id
                        .clone()
                        .or_else(|| conn.peer().endpoint_id.clone());
                    self.serve_following(conn, controller, &mut connector).await;
                    self.say("connection ended");
                    retry
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    self.say(format!("cannot connect: {e}"));
                    // A connection that failed outright (the broker is
                    // down) and one refused by the peer may each be under
                    // their own fault (`BackoffSource::ignored_under`).
                    let peer_down = matches!(e, crate::mtp::MtpError::Connect { .. });
                    self.retry_wait(failures, controller_id.as_deref(), peer_down)
                        .await
                        .unwrap_or(retry)
                }
            };
            if self.is_up() {
                tokio::time::sleep(wait).await;
            } else {
                // A reboot starts the retry count afresh (as R-WS.21 says
                // for WebSocket; the same algorithm for MQTT).
                failures = 0;
                booting = true;
            }
        }
    }

    /// A boot's DHCP lease (asked for until one comes): the connector dials
    /// option 125's URL, and the Controller's row takes its
    /// ProvisioningCode and notify retry parameters.
    async fn follow_dhcp(
        &self,
        dhcp: &BootDhcp,
        connector: &mut impl MtpConnector,
        controller_id: Option<&str>,
    ) {
        let class = if self.faults.contains(Fault::DhcpNoVendorClass) {
            VendorClass::Omitted
        } else {
            dhcp.class
        };
        let lease = loop {
            match dhcp.acquire(class).await {
                Ok(lease) => break lease,
                Err(e) => {
                    self.say(format!("{e}; asking again"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let Some(usp) = lease.usp else {
            self.say(format!(
                "leased {} from {}, without the USP vendor options (125, DHCPv6 17): dialing as configured",
                lease.address, lease.server
            ));
            return;
        };
        self.say(format!(
            "leased {} from {}: USP vendor options {}",
            lease.address,
            lease.server,
            usp.describe()
        ));
        match &usp.controller_url {
            Some(url) if !self.faults.contains(Fault::DhcpIgnoresControllerUrl) => {
                let url = self.resolved(dhcp, &lease.dns, url).await;
                if let Err(e) = connector.redirect(&url) {
                    self.say(format!("not following the Controller URL: {e}"));
                }
            }
            _ => {}
        }
        let Some(eid) = usp.controller_endpoint_id.as_deref().or(controller_id) else {
            return;
        };
        let mut agent = self.agent.lock().await;
        let Some(row) = agent.model.controller_path(eid) else {
            self.say(format!(
                "no Controller row for {eid}: option 125's parameters not kept"
            ));
            return;
        };
        let row = format!("{row}.");
        let code = usp
            .provisioning_code
            .as_ref()
            .filter(|_| !self.faults.contains(Fault::DhcpIgnoresProvisioningCode));
        for (name, value) in [
            ("ProvisioningCode", code),
            (
                "USPNotifRetryMinimumWaitInterval",
                usp.retry_min_wait.as_ref(),
            ),
            (
                "USPNotifRetryIntervalMultiplier",
                usp.retry_multiplier.as_ref(),
            ),
        ] {
            if let Some(v) = value {
                agent.model.put(&row, name, v);
            }
        }
    }

    /// The `.local.` host of `url` resolved with mDNS (or, under the
    /// `local-name-without-mdns` fault, taken as 127.0.0.1 without asking,
    /// as a hosts-file entry would), and the connector pointed at it.
    async fn follow_local_name(&self, url: &str, connector: &mut impl MtpConnector) {
        use crate::discovery::dhcp::{url_host, with_host};
        let Some(host) = url_host(url).map(str::to_string) else {
            return;
        };
        let addr = if self.faults.contains(Fault::LocalNameWithoutMdns) {
            Some(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
        } else {
            let name = host.clone();
            match tokio::task::spawn_blocking(move || {
                crate::discovery::mdns::resolve_host(&name, Duration::from_secs(5))
            })
            .await
            {
                Ok(Ok(found)) => found,
                Ok(Err(e)) => {
                    self.say(format!("mDNS for {host}: {e}"));
                    None
                }
                Err(e) => {
                    self.say(format!("mDNS for {host}: {e}"));
                    None
                }
            }
        };
        let Some(addr) = addr else {
            self.say(format!(
                "{host} did not resolve over mDNS: dialing {url} as it is"
            ));
            return;
        };
        self.say(format!("{host} is {addr}"));
        if let Some(resolved) = with_host(url, &addr.to_string()) {
            if let Err(e) = connector.redirect(&resolved) {
                self.say(format!("not following {resolved}: {e}"));
            }
        }
    }

    /// `url` with its host resolved by the lease's DNS servers when it is a
    /// name (TP-469 8.3); as it is when it is an address or cannot be
    /// resolved (the dialer then says why it cannot connect).
    async fn resolved(&self, dhcp: &BootDhcp, servers: &[std::net::IpAddr], url: &str) -> String {
        use crate::discovery::dhcp::{is_name, url_host, with_host};
        let Some(host) = url_host(url).filter(|h| is_name(h)) else {
            return url.to_string();
        };
        for server in servers {
            match dhcp_client::resolve(&dhcp.interface, *server, host).await {
                Ok(addr) => {
                    self.say(format!("{host} is {addr} (DNS {server})"));
                    return with_host(url, &addr.to_string()).unwrap_or_else(|| url.to_string());
                }
                Err(e) => self.say(e),
            }
        }
        if servers.is_empty() {
            self.say(format!(
                "the lease names no DNS server to resolve {host} with"
            ));
        }
        url.to_string()
    }

    /// `serve`, while the connector re-reads the Agent's model every
    /// `FOLLOW_MODEL`: a client that follows its model (the STOMP client's
    /// destination, R-STOMP.29) acts on a change without a reconnect.
    async fn serve_following(
        &self,
        conn: Box<dyn MtpConnection>,
        controller: Option<String>,
        connector: &mut impl MtpConnector,
    ) {
        let serving = self.serve(conn, controller);
        tokio::pin!(serving);
        let mut follow = tokio::time::interval(FOLLOW_MODEL);
        follow.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = &mut serving => return,
                _ = follow.tick() => {
                    // Never wait for the lock here: `serving` is not polled
                    // meanwhile, and if it is queued for the lock itself,
                    // the lock is handed to it and neither ever moves. A
                    // busy model is read on a later tick.
                    if let Ok(agent) = self.agent.try_lock() {
                        connector.configure(&AgentModel(&agent));
                    }
                }
            }
        }
    }

    /// How long to wait before retry `n` after a failed attempt, from the
    /// back-off parameters in the Agent's model (`with_backoff`); `None`
    /// without them (the fixed retry interval applies) or under the fault
    /// that ignores them (`BackoffSource::ignored_under`).
    async fn retry_wait(
        &self,
        n: u32,
        controller: Option<&str>,
        peer_down: bool,
    ) -> Option<Duration> {
        let source = self.backoff?;
        if self.faults.contains(source.ignored_under(peer_down)) {
            return None;
        }
        let backoff = {
            let agent = self.agent.lock().await;
            source.read(&agent, controller)
        };
        match backoff {
            Ok(b) => {
                let wait = b.wait(n, random_unit());
                self.say(format!(
                    "retry {n} in {} ms (window {})",
                    wait.as_millis(),
                    b.window(n)
                ));
                Some(wait)
            }
            Err(e) => {
                self.say(format!(
                    "back-off parameters unusable ({e}); retrying at the fixed interval"
                ));
                None
            }
        }
    }

    /// As the side that listens: serve every Controller that connects, each
    /// on its own task; while rebooting, nobody is served (a connection that
    /// arrives meanwhile waits). Runs until the task is dropped.
    pub async fn run_listener(self, mut listener: impl MtpConnector) {
        loop {
            self.wait_up().await;
            match listener.establish().await {
                Ok(conn) => {
                    // A Controller that dialed while the Agent was rebooting
                    // is served once it is back, as a real device's listen
                    // backlog would (closing it at once made a redialing
                    // Controller see a connection without a Connect Record).
                    self.wait_up().await;
                    self.say(format!("accepted {}", conn.peer().address));
                    let me = self.clone();
                    // The certificate's identity is authenticated (R-SEC.0a);
                    // the handshake's eid is only claimed.
                    let controller = conn
                        .peer()
                        .certificate_endpoint_id
                        .clone()
                        .or_else(|| conn.peer().endpoint_id.clone());
                    // R-WS.4: one WebSocket session per Controller. The
                    // newer one wins (TP-469 7.2 allows either): an older one
                    // may be a session whose end the Agent has not seen yet.
                    if let Some(ctrl) = controller.as_ref().filter(|_| {
                        conn.peer().mtp == crate::mtp::websocket::MTP
                            && !self.faults.contains(Fault::KeepsBothSessions)
                    }) {
                        self.supersede(ctrl);
                    }
                    tokio::spawn(async move { me.serve(conn, controller).await });
                }
                Err(e) => {
                    self.say(format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// Asks every live connection of `controller` to close.
    fn supersede(&self, controller: &str) {
        let routes = self.shared.routes.lock().unwrap_or_else(|e| e.into_inner());
        for (c, tx) in routes.values() {
            if c == controller {
                let _ = tx.send(Outgoing::Superseded);
            }
        }
    }

    /// Hands Notify Msgs to the tasks of the connections of their Controllers;
    /// one for a Controller that is not connected is lost.
    fn route(&self, notes: Vec<(String, Msg)>) {
        // Most requests cause none: no lock to take then.
        if notes.is_empty() {
            return;
        }
        let routes = self.shared.routes.lock().unwrap_or_else(|e| e.into_inner());
        for (controller, m) in notes {
            let mut sent = false;
            for (c, tx) in routes.values() {
                if *c == controller && !sent {
                    sent = tx.send(Outgoing::Notify(m.clone())).is_ok();
                }
            }
            if !sent {
                self.say(format!("a Notify for {controller} is lost: not connected"));
            }
        }
    }

    /// Serves one connection until it ends. `controller_id` is the peer when
    /// known from the handshake; otherwise learnt from the first Record.
    async fn serve(&self, mut conn: Box<dyn MtpConnection>, mut controller_id: Option<String>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let conn_id = self.shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let protocol = self
            .protocol
            .clone()
            .unwrap_or_else(|| conn.peer().mtp.to_string());
        self.agent.lock().await.set_mtp_protocol(&protocol);
        // Registered before anything is sent: once the Controller has the
        // Connect Record it may open another session at once, and that
        // session's accept must find this one to supersede (R-WS.4). The
        // Notifys that registering owes (Boot!) wait in `rx` until the
        // loop below, after the Connect Record.
        if let Some(ctrl) = &controller_id {
            self.register(conn_id, ctrl, &tx).await;
        }
        let announce = !self.faults.contains(Fault::NoConnectRecord);
        if let Some(ctrl) = controller_id.as_ref().filter(|_| announce) {
            // An MTP without a Connect Record (CoAP) has nothing to send.
            if let Some(hello) = conn.connect_record(&self.endpoint_id, ctrl) {
                if conn.send(&record::encode(&hello)).await.is_err() {
                    self.unregister(conn_id);
                    return;
                }
            }
        }
        // R-MSG.0a: a Controller that opened an E2E session context is
        // answered (and notified) in it.
        let mut e2e = e2e::AgentE2e::new(self.e2e_segment_size);
        if !self.absolute_time {
            e2e = e2e.without_absolute_time();
        }
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            // recv() is cancel-safe (MtpConnection contract), so select! loses nothing.
            // Biased, Notifys first: every Notify queued before a request is
            // read goes out before that request's answer. The harness's
            // silence barrier (Session::expect_silence) relies on this: once
            // the answer to its barrier request is in, nothing the earlier
            // requests caused can still be on its way.
            let inbound = tokio::select! {
                biased;
                out = rx.recv() => {
                    match out {
                        Some(Outgoing::Notify(m)) => {
                            let ctrl = controller_id.clone().unwrap_or_default();
                            if self.send_msg(&mut conn, &mut e2e, &ctrl, &m).await {
                                continue;
                            }
                        }
                        Some(Outgoing::Superseded) => {
                            self.say("closing: a newer session from this Controller replaces it (R-WS.4)");
                            conn.close(Some(CLOSE_NORMAL), "replaced by a newer session (R-WS.4)").await;
                        }
                        Some(Outgoing::Close) | None => {
                            self.say("closing: rebooting");
                            conn.close(Some(CLOSE_NORMAL), "rebooting").await;
                        }
                    }
                    break;
                }
                inbound = conn.recv() => inbound,
                _ = ticker.tick() => {
                    // One lock per tick: the timers, and whether this
                    // Controller's E2ESession asks the Agent to open a context.
                    let (notes, origination) = {
                        let mut agent = self.agent.lock().await;
                        let origination =
                            controller_id.as_deref().and_then(|c| agent.e2e_origination(c));
                        (agent.tick(Clock::now()), origination)
                    };
                    self.route(notes);
                    if let (Some(ctrl), Some(settings)) = (&controller_id, origination) {
                        if !self.originate(&mut conn, &mut e2e, ctrl, settings).await {
                            break;
                        }
                    }
                    continue;
                }
            };
            let bytes = match inbound {
                Ok(Inbound::Record(b)) => b,
                // CoAP has answered the POST 4.00 already and keeps serving.
                Ok(Inbound::Unusable(what))
                    if conn.bad_record_answer().is_some_and(|a| !a.closes()) =>
                {
                    self.say(format!("ignoring: {what}"));
                    continue;
                }
                Ok(Inbound::Unusable(what)) => {
                    self.say(format!("closing: received {what}"));
                    conn.close(Some(self.unusable_close_code()), "binary USP Records only")
                        .await;
                    break;
                }
                Err(_) => break,
            };
            // Read in place (the same checks as record::decode, no copies).
            let to_check =
                (!self.faults.contains(Fault::AnswersAnyToId)).then_some(self.endpoint_id.as_str());
            let rec = match record::parse(&bytes, to_check) {
                Ok(r) => r,
                // R-E2E.1: a Record for another endpoint is silently ignored.
                Err(RecordError::WrongToId { .. }) => continue,
                Err(e) => {
                    if self.keeps_session_after_bad_record(&mut conn, &e).await {
                        continue;
                    }
                    break;
                }
            };
            // R-ARC.2: endpoints sharing our Endpoint ID are not talked to.
            if rec.from_id == self.endpoint_id.as_str()
                && !self.faults.contains(Fault::AnswersOwnEndpointId)
            {
                continue;
            }
            // R-SEC.10a: over TLS, a Record whose from_id is not the
            // Endpoint ID in the peer's certificate must not be processed.
            // Over a broker MTP the certificate is the broker's, not the
            // Controller's: R-SEC.10a does not apply to it.
            let cert_eid = conn
                .certificate_names_the_peer()
                .then_some(conn.peer().certificate_endpoint_id.as_ref())
                .flatten();
            if let Some(cert_eid) = cert_eid {
                if rec.from_id != cert_eid.as_str() {
                    self.say(format!(
                        "ignoring a Record from '{}': the certificate names '{cert_eid}' (R-SEC.10a)",
                        rec.from_id
                    ));
                    continue;
                }
            }
            if controller_id.is_none() {
                controller_id = Some(rec.from_id.to_string());
                self.register(conn_id, &rec.from_id, &tx).await;
            }
            let from = controller_id.clone().unwrap_or_default();
            if !self.integrity_holds(&rec, &mut e2e) {
                continue;
            }
            let requests = if let Some(sc) = rec.session_context() {
                let expiration = self.agent.lock().await.e2e_session_expiration(&from);
                let got = e2e.receive(
                    &self.endpoint_id,
                    &from,
                    sc,
                    rec.payload_security,
                    expiration,
                    &self.faults,
                );
                for p in &got.problems {
                    self.say(format!("E2E: {p}"));
                }
                if let Some((code, reason)) = &got.disconnect {
                    // R-E2E.6a/6b: the context is refused or ended with a
                    // DisconnectRecord; continuing on the same channel, the
                    // Connect Record comes first again (R-MTP.8).
                    self.say(format!("E2E: DisconnectRecord {code}: {reason}"));
                    let bye = record::disconnect(&self.endpoint_id, &from, *code, reason);
                    if conn.send(&record::encode(&bye)).await.is_err() {
                        break;
                    }
                    if let Some(hello) = conn.connect_record(&self.endpoint_id, &from) {
                        if conn.send(&record::encode(&hello)).await.is_err() {
                            break;
                        }
                    }
                    continue;
                }
                for r in &got.replies {
                    if conn.send(r).await.is_err() {
                        break;
                    }
                }
                got.payloads
                    .iter()
                    .filter_map(|p| crate::usp::e2e::payload_msg(p).ok())
                    .collect()
            } else {
                match rec.payload_msg() {
                    Ok(m) => vec![m],
                    // R-MTP.5 allows silence when the Msg cannot be extracted.
                    Err(_) => Vec::new(),
                }
            };
            let mut gone = false;
            for request in requests {
                if !self.answer(&mut conn, &mut e2e, &from, &request).await {
                    gone = true;
                    break;
                }
            }
            if gone {
                break;
            }
            // A request may have changed what the connection follows
            // (an MQTT Subscription row: R-MQTT.15 / R-MQTT.34).
            if let Some(table) = conn.followed_table().map(str::to_string) {
                let now = rows(&*self.agent.lock().await, &table);
                conn.follow_table(&now).await;
            }
        }
        self.unregister(conn_id);
    }

    /// E2ESession SessionMode Require with PayloadSecurity TLS: the Agent
    /// opens its own TLS12 context, and after a failed one waits the
    /// SessionRetry back-off before the next (TP-469 3.5; the window of
    /// retry n is [m·k^(n-1), m·k^n], k in thousandths). The settings are
    /// `Agent::e2e_origination`'s, read under the tick's lock. False when
    /// the connection is gone.
    async fn originate(
        &self,
        conn: &mut Box<dyn MtpConnection>,
        e2e: &mut e2e::AgentE2e,
        ctrl: &str,
        (min_wait, multiplier, obj): (String, String, String),
    ) -> bool {
        if let Some(failed) = e2e.origination.failed_at.take() {
            let n = e2e.origination.retries;
            let wait = if self.faults.contains(Fault::E2eSessionRetryImmediately) {
                Duration::ZERO
            } else {
                Backoff::e2e_session(&min_wait, &multiplier)
                    .map_or(Duration::from_secs(5), |b| b.wait(n, random_unit()))
            };
            e2e.origination.not_before = Some(failed + wait);
            self.say(format!(
                "E2E: the TLS context it opened failed; retry {n} in {} ms",
                wait.as_millis()
            ));
        }
        // E2ESession.CurrentRetryCount: 0 again once a context of the
        // Agent's is established.
        let count = e2e.origination.retries;
        if e2e.origination.reported_retries != count {
            self.put_param(&obj, "CurrentRetryCount", &count.to_string())
                .await;
            e2e.origination.reported_retries = count;
        }
        if !e2e.origination.due(std::time::Instant::now()) {
            return true;
        }
        if e2e.tls_identity.is_none() {
            e2e.tls_identity = self.tls_identity();
        }
        self.say("E2E: opening a TLS12 context (SessionMode Require)");
        for r in e2e.originate_tls(&self.endpoint_id, ctrl, &self.faults) {
            if conn.send(&r).await.is_err() {
                return false;
            }
        }
        true
    }

    /// A Record that cannot be decoded: where the binding says so, the
    /// connection is closed its way (WebSocket Close 1003, R-WS.16; UDS an
    /// Error TLV); elsewhere (MQTT, STOMP, CoAP) it is ignored and the
    /// session kept: R-MTP.5 asks for a Record Error only when from_id,
    /// to_id and msg_id can be read, and these bytes give none. Whether
    /// the connection lives on.
    async fn keeps_session_after_bad_record(
        &self,
        conn: &mut Box<dyn MtpConnection>,
        e: &RecordError,
    ) -> bool {
        if self.faults.contains(Fault::DropsSessionOnBadRecord) {
            // No Close status, no Error TLV: the session just ends.
            self.say(format!("fault drops-session-on-bad-record: closing on {e}"));
            conn.close(None, "").await;
            return false;
        }
        if conn.bad_record_answer().is_some_and(|a| a.closes()) {
            self.say(format!("closing: {e}"));
            conn.close(Some(self.unusable_close_code()), "undecodable USP Record")
                .await;
            return false;
        }
        self.say(format!(
            "ignoring a Record that cannot be decoded (R-MTP.5): {e}"
        ));
        true
    }

    /// The close status for a frame the Agent cannot process: 1003
    /// (R-WS.16), or 1007 with the `wrong-close-code` fault.
    fn unusable_close_code(&self) -> u16 {
        if self.faults.contains(Fault::WrongCloseCode) {
            CLOSE_INVALID_PAYLOAD
        } else {
            CLOSE_UNSUPPORTED_DATA
        }
    }

    /// Sends a Msg the Agent originates (a Notify) in the connection's E2E
    /// context if there is one; false when the connection is gone.
    async fn send_msg(
        &self,
        conn: &mut Box<dyn MtpConnection>,
        e2e: &mut e2e::AgentE2e,
        ctrl: &str,
        m: &Msg,
    ) -> bool {
        if e2e.active() {
            use prost::Message;
            for r in e2e.send(&self.endpoint_id, ctrl, &m.encode_to_vec(), &self.faults) {
                if conn.send(&r).await.is_err() {
                    return false;
                }
            }
            return true;
        }
        use prost::Message;
        let bytes = record::encode_no_session(&self.endpoint_id, ctrl, &m.encode_to_vec());
        conn.send(&bytes).await.is_ok()
    }

    /// Handles one request and sends its answer; false when the connection
    /// is gone (or dropped on purpose).
    async fn answer(
        &self,
        conn: &mut Box<dyn MtpConnection>,
        e2e: &mut e2e::AgentE2e,
        from: &str,
        request: &Msg,
    ) -> bool {
        {
            if self.faults.contains(Fault::DisconnectMidExchange)
                && msg::request_body(request).is_some()
            {
                self.say("fault disconnect-mid-exchange: dropping the connection");
                conn.close(None, "").await;
                return false;
            }
            let (answer, notes, effects) = {
                let mut agent = self.agent.lock().await;
                // Time passes before the request is handled (TimeToLive counts from here).
                let mut notes = agent.before_request(Clock::now());
                let answer = agent.handle(from, request);
                notes.extend(agent.take_notifications());
                (answer, notes, agent.take_effects())
            };
            if let Some(answer) = answer {
                let to = if self.faults.contains(Fault::WrongToId) {
                    SOMEBODY_ELSE
                } else {
                    from
                };
                if self.faults.contains(Fault::MalformedProtobuf) {
                    if conn.send(GARBAGE).await.is_err() {
                        return false;
                    }
                } else if !self.send_msg(conn, e2e, to, &answer).await {
                    return false;
                }
            }
            // After the answer: its notifications (through the channels, so they
            // follow it), then what must happen outside the core.
            self.route(notes);
            self.execute(effects);
        }
        true
    }

    /// Makes the connection reachable for its Controller's Notifys and tells the
    /// core it is connected (a Boot! may be owed).
    async fn register(&self, conn_id: u64, controller: &str, tx: &mpsc::UnboundedSender<Outgoing>) {
        self.shared
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(conn_id, (controller.to_string(), tx.clone()));
        let notes = self.agent.lock().await.connected(controller, Clock::now());
        self.route(notes);
    }

    fn unregister(&self, conn_id: u64) {
        self.shared
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&conn_id);
    }
}

/// Where a dialer's back-off parameters live in the Agent's model: one
/// source per MTP, each under its own TR-181 names (`mtp::backoff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackoffSource {
    /// `Device.MQTT.Client.1.ConnectRetry*` (TP-469 11.16).
    Mqtt,
    /// `Device.STOMP.Connection.{i}.ServerRetry*`, the connection that
    /// `Device.LocalAgent.MTP.1.STOMP.Reference` names (TP-469 6.3).
    Stomp,
    /// `Device.LocalAgent.Controller.{i}.MTP.1.WebSocket.SessionRetry*` of
    /// the Controller being dialed (R-WS.19-21, TP-469 7.8).
    WebSocket,
}

/// The MQTT client the reference Agent's MQTT MTP uses.
pub const MQTT_CLIENT: &str = "Device.MQTT.Client.1.";

impl BackoffSource {
    /// The fault under which the dialer ignores these parameters and
    /// retries at its fixed interval instead, after a refusal or, with
    /// `peer_down`, after a connection that could not be made at all.
    fn ignored_under(self, peer_down: bool) -> Fault {
        match self {
            BackoffSource::Mqtt if peer_down => Fault::MqttFixedRetryWhenBrokerDown,
            BackoffSource::Mqtt => Fault::RetriesOutsideWindow,
            BackoffSource::Stomp => Fault::StompRetriesTooEarly,
            BackoffSource::WebSocket => Fault::RetriesTooEarly,
        }
    }

    fn read(self, agent: &Agent, controller: Option<&str>) -> Result<Backoff, BackoffError> {
        let get = |obj: &str, name: &str| agent.model.value(obj, name).unwrap_or_default();
        match self {
            BackoffSource::Mqtt => Backoff::mqtt(
                &get(MQTT_CLIENT, "ConnectRetryTime"),
                &get(MQTT_CLIENT, "ConnectRetryIntervalMultiplier"),
                &get(MQTT_CLIENT, "ConnectRetryMaxInterval"),
            ),
            BackoffSource::Stomp => {
                let c = crate::mtp::stomp::model_connection(&|path| param(agent, path));
                Backoff::stomp(
                    &get(&c, "ServerRetryInitialInterval"),
                    &get(&c, "ServerRetryIntervalMultiplier"),
                    &get(&c, "ServerRetryMaxInterval"),
                )
            }
            BackoffSource::WebSocket => {
                // The dialed Controller's row; the first one when unknown.
                let row = controller
                    .and_then(|eid| agent.model.controller_path(eid))
                    .unwrap_or_else(|| "Device.LocalAgent.Controller.1".into());
                let obj = format!("{row}.MTP.1.WebSocket.");
                Backoff::websocket(
                    &get(&obj, "SessionRetryMinimumWaitInterval"),
                    &get(&obj, "SessionRetryIntervalMultiplier"),
                )
            }
        }
    }
}

/// A parameter of the Agent's model by its full path.
fn param(agent: &Agent, path: &str) -> Option<String> {
    let (object, name) = path.rsplit_once('.')?;
    agent.model.value(&format!("{object}."), name)
}

/// The rows of a table of the Agent's model, in instance order.
fn rows(agent: &Agent, table: &str) -> Vec<ModelRow> {
    agent
        .model
        .instances(table)
        .iter()
        .map(|inst| agent.model.params(inst))
        .collect()
}

/// The Agent's model as its MTP connectors read it.
struct AgentModel<'a>(&'a Agent);

impl ModelView for AgentModel<'_> {
    fn param(&self, path: &str) -> Option<String> {
        param(self.0, path)
    }

    fn rows(&self, table: &str) -> Vec<ModelRow> {
        rows(self.0, table)
    }
}

/// A random number in [0, 1] for picking a wait inside a back-off window.
fn random_unit() -> f64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    match ring::rand::SystemRandom::new().fill(&mut b) {
        Ok(()) => f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX),
        // No randomness: the middle of the window is still inside it.
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests;
