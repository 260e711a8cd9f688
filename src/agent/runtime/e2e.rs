//! The reference Agent's side of an E2E session context: a Controller that
//! sends a SessionContextRecord gets its answers (and Notifys) in that
//! context, segmented at the configured size; retransmit requests are
//! answered from the window; Records out of order are held until the gap
//! is filled, duplicates ignored. A Record whose payload_security differs
//! from the context's ends the context with a DisconnectRecord 7105
//! (R-E2E.18/19, R-E2E.6b). The `e2e-wrong-sequence` and `e2e-bad-sar`
//! faults are applied to the Records on their way out; the other E2E
//! faults on the way in (see `Fault`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::agent::faults::{Fault, FaultSet};
use crate::usp::e2e::tls::{Exchange, Identity, PayloadTls, ServerPolicy, TlsFailure, Versions};
use crate::usp::e2e::tls12_records::{self, HANDSHAKE};
use crate::usp::e2e::{self, E2eEvent, E2eSession, SarState};
use crate::usp::proto::record::{record::PayloadSecurity, SessionContextRecord};
use crate::usp::record::integrity::{self, NonPayload, Signer};
use crate::usp::{errors, record};

/// Payload bytes per Record unless configured (`--segment-size`).
pub const DEFAULT_SEGMENT_SIZE: usize = 1024;

/// One connection's context, if its Controller opened one.
pub(super) struct AgentE2e {
    pub session: Option<E2eSession>,
    pub segment_size: usize,
    /// The context's payload_security, fixed by its first Record.
    security: i32,
    /// When the Controller's last Record arrived (SessionExpiration).
    last_seen: Option<Instant>,
    /// Set while the Controller signs its Records: the Agent then signs
    /// its own (R-E2E.29/30) with this identity.
    pub signing: Option<Arc<Signer>>,
    /// TLS payload security (a context begun with payload_security TLS12):
    /// the Agent is the TLS server (the Controller originated it).
    tls: Option<PayloadTls>,
    /// The certificate the Agent shows in a TLS12 context and the signer
    /// of its handshake Records; given by the host before such a context.
    pub tls_identity: Option<Arc<TlsIdentity>>,
    /// The TLS contexts the Agent opens itself.
    pub origination: Origination,
    /// False for an Agent booted without absolute time: certificate
    /// validity dates are then not judged (R-MTP.2/3).
    absolute_time: bool,
}

/// The Agent's own TLS12 contexts (E2ESession.SessionMode Require with
/// PayloadSecurity TLS): the Agent is then the TLS client (R-E2E.41), and a
/// failed handshake is tried again after the SessionRetry back-off (TP-469
/// 3.5).
#[derive(Debug, Default)]
pub(super) struct Origination {
    /// The current context is one the Agent opened.
    pub ours: bool,
    /// Its handshake is under way.
    pub negotiating: bool,
    /// Failed attempts in a row (E2ESession.CurrentRetryCount).
    pub retries: u32,
    /// The count last written to CurrentRetryCount.
    pub reported_retries: u32,
    /// When the last attempt failed, until its retry is scheduled.
    pub failed_at: Option<Instant>,
    /// No attempt before this.
    pub not_before: Option<Instant>,
}

impl Origination {
    /// Whether a new attempt is due now (the caller has scheduled any
    /// failure first).
    pub fn due(&self, now: Instant) -> bool {
        !self.negotiating
            && !self.ours
            && self.failed_at.is_none()
            && self.not_before.is_none_or(|t| now >= t)
    }
}

/// What the Agent shows and signs with in a TLS12 context.
pub(super) struct TlsIdentity {
    /// The certificate of the TLS handshake (names the Agent, unless the
    /// `e2e-tls-certificate-names-another` fault).
    pub shown: Identity,
    /// Signs the Records carrying handshake flights (R-E2E.29/30).
    pub signer: Arc<Signer>,
}

/// How one of the Agent's Records is sealed.
enum Sealing<'a> {
    /// PLAINTEXT: signed while the Controller signs.
    Plain(Option<&'a Signer>),
    /// TLS12 while handshaking: signed.
    TlsSigned(&'a Signer),
    /// TLS12 after the handshake: HMAC under the Agent's (server) key.
    TlsHmac([u8; 32]),
}

/// What receiving one SessionContextRecord asks the transport to do.
pub(super) struct Inbound {
    /// Whole payloads (serialized Msgs) in order.
    pub payloads: Vec<Vec<u8>>,
    /// Encoded Records to send now (retransmissions, retransmit requests).
    pub replies: Vec<Vec<u8>>,
    /// Problems with the Controller's Records, for the log.
    pub problems: Vec<String>,
    /// End the context with a DisconnectRecord (reason_code, reason); the
    /// transport then sends its Connect Record again (R-MTP.8).
    pub disconnect: Option<(u32, String)>,
}

impl AgentE2e {
    pub fn new(segment_size: usize) -> Self {
        AgentE2e {
            session: None,
            segment_size,
            security: 0,
            last_seen: None,
            signing: None,
            tls: None,
            tls_identity: None,
            origination: Origination::default(),
            absolute_time: true,
        }
    }

    /// An Agent booted without absolute time (TP-469 2.6's setup): it
    /// ignores the validity dates of the Controller's certificate.
    pub fn without_absolute_time(mut self) -> Self {
        self.absolute_time = false;
        self
    }

    /// Opens a TLS12 context as the TLS client: a new session_id, the
    /// ClientHello signed (R-E2E.29/30). Empty without a TLS identity.
    pub fn originate_tls(&mut self, me: &str, ctrl: &str, faults: &FaultSet) -> Vec<Vec<u8>> {
        let Some(id) = self.tls_identity.clone() else {
            return Vec::new();
        };
        let Ok(mut tls) = PayloadTls::client(&id.shown, Versions::Any) else {
            return Vec::new();
        };
        let hello = tls.outgoing();
        // R-E2E.3: chosen by the originator, greater than 1.
        let session_id = (super::random_unit() * 1e15) as u64 + 2;
        let mut session = E2eSession::new(session_id, self.segment_size).following_peer();
        let records = session
            .wrap(&hello)
            .into_iter()
            .map(|r| seal(&Sealing::TlsSigned(&id.signer), me, ctrl, r, faults))
            .collect();
        self.session = Some(session);
        self.security = PayloadSecurity::Tls12 as i32;
        self.tls = Some(tls);
        self.signing = None;
        self.last_seen = Some(Instant::now());
        self.origination.ours = true;
        self.origination.negotiating = true;
        records
    }

    pub fn active(&self) -> bool {
        self.session.is_some()
    }

    /// A Record whose integrity failed: dropped, and the context starts
    /// over with the Controller's next Record (spec E2E "Integrity").
    pub fn drop_context(&mut self) {
        self.session = None;
        self.signing = None;
        self.tls = None;
        self.origination_ended();
    }

    /// The Agent's own context is over: an attempt still negotiating
    /// failed (its retry is scheduled by the host).
    fn origination_ended(&mut self) {
        let o = &mut self.origination;
        if o.negotiating {
            o.retries += 1;
            o.failed_at = Some(Instant::now());
        }
        o.negotiating = false;
        o.ours = false;
    }

    /// The key that checks a Controller's HMAC: a TLS12 Record of the
    /// established TLS context (a Record of another session_id, or sent
    /// before the handshake finished, is checked by its signature).
    pub fn peer_mac_key(&self, payload_security: i32, session_id: Option<u64>) -> Option<[u8; 32]> {
        if payload_security != PayloadSecurity::Tls12 as i32 {
            return None;
        }
        let current = self.session.as_ref().map(E2eSession::session_id);
        if current.is_none() || current != session_id {
            return None;
        }
        self.tls.as_ref()?.own_and_peer_keys().map(|(_, peer)| peer)
    }

    /// How a Record made now is sealed.
    fn sealing(&self) -> Sealing<'_> {
        sealing_of(&self.tls, &self.tls_identity, self.signing.as_deref())
    }

    pub fn receive(
        &mut self,
        me: &str,
        ctrl: &str,
        sc: &SessionContextRecord,
        payload_security: i32,
        expiration: Option<Duration>,
        faults: &FaultSet,
    ) -> Inbound {
        let mut out = Inbound {
            payloads: Vec::new(),
            replies: Vec::new(),
            problems: Vec::new(),
            disconnect: None,
        };
        if faults.contains(Fault::E2eNoSessionContext) {
            // R-E2E.6a: an Agent that allows no session context says so.
            out.disconnect = Some((
                errors::SESSION_CONTEXT_NOT_ALLOWED,
                "this Agent does not allow E2E session contexts".into(),
            ));
            return out;
        }
        // Controller.{i}.E2ESession.SessionExpiration: a context without a
        // Record for that long is over; a Record still in it is not carried
        // out there, and the end is said with a DisconnectRecord 7105
        // (R-E2E.6b). Another session_id starts a new context as usual.
        let now = Instant::now();
        let idle = self.last_seen.map(|t| now.duration_since(t));
        self.last_seen = Some(now);
        if let (Some(limit), Some(idle), Some(old)) = (
            expiration,
            idle,
            self.session.as_ref().map(E2eSession::session_id),
        ) {
            if idle > limit && !faults.contains(Fault::E2eNeverExpires) {
                self.session = None;
                if old == sc.session_id {
                    out.disconnect = Some((
                        errors::SESSION_CONTEXT_TERMINATED,
                        format!(
                            "the session context {old} expired: no Record for {} ms, SessionExpiration is {} s",
                            idle.as_millis(),
                            limit.as_secs()
                        ),
                    ));
                    return out;
                }
            }
        }
        let mut sc = sc.clone();
        let current = self.session.as_ref().map(E2eSession::session_id);
        if let Some(current) = current.filter(|c| *c != sc.session_id) {
            if faults.contains(Fault::E2eIgnoresNewSession) {
                // The new session_id is taken for the old context: its
                // sequence_id 1 is then an old, ignored one.
                sc.session_id = current;
            }
        }
        let same_context = current == Some(sc.session_id);
        if same_context
            && payload_security != self.security
            && !faults.contains(Fault::E2eAcceptsMixedSecurity)
        {
            // R-E2E.18/19: payload_security stays what the context began
            // with; the context ends (R-E2E.6b: 7105 without dropping the MTP).
            self.session = None;
            out.disconnect = Some((
                errors::SESSION_CONTEXT_TERMINATED,
                format!(
                    "payload_security {payload_security} differs from the session context's {} (R-E2E.18/19)",
                    self.security
                ),
            ));
            return out;
        }
        if !same_context {
            // The Controller's context replaces any the Agent opened.
            self.origination_ended();
            self.security = payload_security;
            self.tls = None;
            if payload_security == PayloadSecurity::Tls12 as i32 {
                // R-E2E.41: the context's originator is the TLS client.
                let policy = ServerPolicy {
                    no_client_certificate: faults.contains(Fault::E2eTlsNoClientCertificate),
                    any_client_id: faults.contains(Fault::E2eTlsAcceptsAnyCertificate),
                    // R-MTP.2/3: without absolute time the dates cannot be
                    // judged, so they are not.
                    any_validity: faults.contains(Fault::E2eTlsAcceptsExpiredCertificate)
                        || (!self.absolute_time
                            && !faults.contains(Fault::E2eNoClockChecksCertificateDates)),
                };
                match self
                    .tls_identity
                    .as_ref()
                    .map(|id| PayloadTls::server(&id.shown, ctrl, &policy))
                {
                    Some(Ok(tls)) => self.tls = Some(tls),
                    Some(Err(e)) => out.problems.push(format!("no TLS server: {e}")),
                    None => out
                        .problems
                        .push("no TLS identity to answer a TLS12 context with".into()),
                }
            }
        }
        let mut tls_failed = false;
        // R-E2E.3/R-E2E.6: the Controller's session_id names the context;
        // the Agent follows it, restarting when it changes.
        let session = self.session.get_or_insert_with(|| {
            E2eSession::new(sc.session_id, self.segment_size).following_peer()
        });
        let whole = |r: &SessionContextRecord| {
            (r.payload_sar_state == SarState::None.wire() && !r.payload.is_empty())
                .then(|| r.payload.concat())
        };
        if faults.contains(Fault::E2eProcessesOutOfOrder)
            && session.session_id() == sc.session_id
            && sc.sequence_id > session.expected_id()
        {
            // Processed as it comes instead of held behind the gap.
            out.payloads.extend(whole(&sc));
            return out;
        }
        for ev in session.receive(&sc) {
            match ev {
                E2eEvent::Payload(p) => match self.tls.as_mut() {
                    None => out.payloads.push(p),
                    Some(tls) => {
                        // A flight made while handshaking goes signed.
                        let before = tls.own_and_peer_keys().map(|(own, _)| own);
                        let ex = if faults.contains(Fault::E2eTlsRenegotiationClosesSession)
                            && asks_to_renegotiate(tls, &p)
                        {
                            Exchange {
                                outgoing: tls.close(),
                                failure: Some(TlsFailure::Refused(
                                    "a renegotiation request: the TLS session is closed (fault)"
                                        .into(),
                                )),
                                ..Exchange::default()
                            }
                        } else {
                            tls.receive(&p)
                        };
                        if !ex.outgoing.is_empty() {
                            for r in session.wrap(&ex.outgoing) {
                                let how = match (before, &self.tls_identity) {
                                    (Some(own), _) => Sealing::TlsHmac(own),
                                    (None, Some(id)) => Sealing::TlsSigned(&id.signer),
                                    (None, None) => Sealing::Plain(None),
                                };
                                out.replies.push(seal(&how, me, ctrl, r, faults));
                            }
                        }
                        if !ex.plaintext.is_empty() {
                            out.payloads.push(ex.plaintext);
                        }
                        if let Some(f) = ex.failure {
                            out.problems.push(format!("TLS payload security: {f}"));
                            tls_failed = true;
                        } else if self.origination.negotiating && !tls.is_handshaking() {
                            self.origination.negotiating = false;
                            self.origination.retries = 0;
                        }
                    }
                },
                // With e2e-wrong-sequence the skipped ids were never sent,
                // so there is nothing to resend for them.
                E2eEvent::Retransmit(_)
                    if faults.contains(Fault::E2eWrongSequence)
                        || faults.contains(Fault::E2eIgnoresRetransmit) => {}
                E2eEvent::Retransmit(r) => {
                    let how = sealing_of(&self.tls, &self.tls_identity, self.signing.as_deref());
                    out.replies.push(seal(&how, me, ctrl, r, faults))
                }
                E2eEvent::Violation(v) => out.problems.push(v.to_string()),
                E2eEvent::Held { .. } => {
                    // Ask for the gap at once (retransmit_id).
                    if let Some(missing) = session.missing() {
                        let ask = session.retransmit_request(missing);
                        let how =
                            sealing_of(&self.tls, &self.tls_identity, self.signing.as_deref());
                        out.replies.push(seal(&how, me, ctrl, ask, faults));
                    }
                }
                E2eEvent::Ignored { .. } if faults.contains(Fault::E2eProcessesDuplicates) => {
                    // The duplicate is carried out again.
                    out.payloads.extend(whole(&sc));
                }
                E2eEvent::Restarted { .. } | E2eEvent::Ignored { .. } => {}
            }
        }
        if tls_failed {
            // The alert went back; the context is over (a new ClientHello
            // in a new context starts again).
            self.session = None;
            self.tls = None;
            self.origination_ended();
        }
        out
    }

    /// The encoded Records that carry `payload` in the context, with the
    /// E2E faults applied.
    pub fn send(
        &mut self,
        me: &str,
        ctrl: &str,
        payload: &[u8],
        faults: &FaultSet,
    ) -> Vec<Vec<u8>> {
        let sealed;
        let payload = match self.tls.as_mut() {
            None => payload,
            Some(tls) => match tls.seal(payload) {
                Some(s) => {
                    sealed = s;
                    &sealed[..]
                }
                // Not established (or failed): nothing can be encrypted.
                None => return Vec::new(),
            },
        };
        let Some(session) = self.session.as_mut() else {
            return Vec::new();
        };
        let mut recs = session.wrap(payload);
        if faults.contains(Fault::E2eWrongSequence) {
            // 1, 3, 5, ...: every other sequence_id is skipped.
            for r in &mut recs {
                r.sequence_id = r.sequence_id * 2 - 1;
            }
        }
        if faults.contains(Fault::E2eBadSar) && recs.len() > 1 {
            // The last segment says INPROCESS: COMPLETE never comes.
            if let Some(last) = recs.last_mut() {
                last.payload_sar_state = SarState::InProcess.wire();
                last.payloadrec_sar_state = SarState::InProcess.wire();
            }
        }
        let how = self.sealing();
        recs.into_iter()
            .map(|r| seal(&how, me, ctrl, r, faults))
            .collect()
    }
}

/// A TLS 1.2 handshake record after the handshake: a renegotiation request
/// (TLS 1.2 shows the content type in the clear; TLS 1.3 hides it).
fn asks_to_renegotiate(tls: &PayloadTls, payload: &[u8]) -> bool {
    !tls.is_handshaking()
        && tls.peer().version.as_deref() == Some("TLSv1_2")
        && tls12_records::first_content_type(payload) == Some(HANDSHAKE)
}

/// How a Record made now is sealed (a free function so that it can be
/// called while the context's session is borrowed).
fn sealing_of<'a>(
    tls: &Option<PayloadTls>,
    id: &'a Option<Arc<TlsIdentity>>,
    signing: Option<&'a Signer>,
) -> Sealing<'a> {
    match (tls, id) {
        (Some(tls), Some(id)) => match tls.own_and_peer_keys() {
            Some((own, _)) => Sealing::TlsHmac(own),
            None => Sealing::TlsSigned(&id.signer),
        },
        _ => Sealing::Plain(signing),
    }
}

/// One of the Agent's SessionContextRecords, sealed as `how` says (with
/// the signature and MAC faults), encoded.
fn seal(
    how: &Sealing,
    me: &str,
    ctrl: &str,
    sc: SessionContextRecord,
    faults: &FaultSet,
) -> Vec<u8> {
    let mut rec = e2e::record(me, ctrl, sc);
    let flip = |rec: &mut crate::usp::proto::record::Record| {
        if let Some(b) = rec.mac_signature.last_mut() {
            *b ^= 0x01;
        }
    };
    match how {
        Sealing::Plain(None) => {}
        Sealing::Plain(Some(signer)) => {
            signer.sign(&mut rec);
            if faults.contains(Fault::E2eBadSignature) {
                flip(&mut rec);
            }
        }
        Sealing::TlsSigned(signer) => {
            rec.payload_security = PayloadSecurity::Tls12 as i32;
            signer.sign(&mut rec);
        }
        Sealing::TlsHmac(key) => {
            rec.payload_security = PayloadSecurity::Tls12 as i32;
            if !faults.contains(Fault::E2eTlsNoMac) {
                rec.mac_signature = integrity::hmac(&NonPayload::from(&rec), key);
                if faults.contains(Fault::E2eTlsBadMac) {
                    flip(&mut rec);
                }
            }
        }
    }
    record::encode(&rec)
}
