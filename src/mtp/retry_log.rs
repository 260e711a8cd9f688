//! Observed reconnection retries (sans-I/O): after each connection attempt
//! the harness refused, how long the Agent waited before its next attempt,
//! and whether that wait falls inside the back-off window (`mtp::backoff`)
//! of the retry's number. Shared by `expect_mqtt_retries`,
//! `expect_stomp_retries` and `expect_ws_retries`; each log (MQTT packets,
//! STOMP frames, WebSocket events) says what a refusal and an attempt are.

use std::time::Duration;

use chrono::DateTime;

use super::backoff::Backoff;

/// Most retries a step may measure.
pub const MAX_RETRIES: u32 = 10;
/// Longest a retry step may wait.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// An entry of a log the retries are read from.
pub trait AttemptLog {
    /// When it happened (RFC 3339).
    fn at(&self) -> &str;
    /// The harness refused a connection attempt here.
    fn is_refusal(&self) -> bool;
    /// The Agent starts a connection attempt here.
    fn is_attempt(&self) -> bool;
}

/// One measured retry: a refusal and the Agent's next attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// 1-based: the first refusal is followed by retry 1.
    pub n: u32,
    pub refused_at: String,
    pub attempt_at: String,
    pub wait: Duration,
}

/// The retries in `log` (the entries since the step that armed the
/// refusals): each refusal paired with the first attempt after it.
pub fn retries<E: AttemptLog>(log: &[E]) -> Vec<Retry> {
    let mut out = Vec::new();
    for (i, refusal) in log.iter().enumerate() {
        if !refusal.is_refusal() {
            continue;
        }
        let Some(attempt) = log[i + 1..].iter().find(|e| e.is_attempt()) else {
            break;
        };
        let (Some(a), Some(b)) = (instant(refusal.at()), instant(attempt.at())) else {
            continue;
        };
        out.push(Retry {
            n: out.len() as u32 + 1,
            refused_at: refusal.at().to_string(),
            attempt_at: attempt.at().to_string(),
            wait: (b - a).to_std().unwrap_or(Duration::ZERO),
        });
    }
    out
}

fn instant(at: &str) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_rfc3339(at).ok()
}

/// Whether retry `r`'s wait is inside its window (± `tolerance`), and the
/// sentence that says so either way; `attempt` names what the Agent sent
/// (`CONNECT`, `STOMP frame`, `handshake`) and `refusal` what refused it.
pub fn judge(
    r: &Retry,
    backoff: &Backoff,
    tolerance: Duration,
    attempt: &str,
    refusal: &str,
) -> (bool, String) {
    let w = backoff.window(r.n);
    let ok = w.contains(r.wait, tolerance);
    (
        ok,
        format!(
            "retry {}: {attempt} at {}, {} ms after the {refusal} at {} ({} the window {} ± {} ms)",
            r.n,
            r.attempt_at,
            r.wait.as_millis(),
            r.refused_at,
            if ok { "inside" } else { "outside" },
            w,
            tolerance.as_millis()
        ),
    )
}

/// The load-time check every retry step shares.
pub fn validate(step: &str, retries: u32, timeout_ms: Option<u64>) -> Result<(), String> {
    if retries == 0 || retries > MAX_RETRIES {
        return Err(format!("{step}: retries must be 1 to {MAX_RETRIES}"));
    }
    if timeout_ms.is_some_and(|t| t > MAX_TIMEOUT_MS) {
        return Err(format!("{step}: timeout_ms above {MAX_TIMEOUT_MS}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (time, refusal?, attempt?)
    struct E(&'static str, bool, bool);

    impl AttemptLog for E {
        fn at(&self) -> &str {
            self.0
        }
        fn is_refusal(&self) -> bool {
            self.1
        }
        fn is_attempt(&self) -> bool {
            self.2
        }
    }

    #[test]
    fn waits_are_measured_from_each_refusal_to_the_next_attempt() {
        let log = [
            E("2026-01-01T00:00:00.000Z", false, true),
            E("2026-01-01T00:00:00.010Z", true, false),
            E("2026-01-01T00:00:00.500Z", false, false),
            E("2026-01-01T00:00:01.210Z", false, true),
            E("2026-01-01T00:00:01.220Z", true, false),
            E("2026-01-01T00:00:03.020Z", false, true),
        ];
        let r = retries(&log);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].n, r[0].wait), (1, Duration::from_millis(1200)));
        assert_eq!((r[1].n, r[1].wait), (2, Duration::from_millis(1800)));
        let b = Backoff::stomp("1", "1500", "30720").unwrap();
        let tol = Duration::from_millis(100);
        assert!(judge(&r[0], &b, tol, "STOMP frame", "refusing ERROR").0);
        assert!(judge(&r[1], &b, tol, "STOMP frame", "refusing ERROR").0);
        let (ok, why) = judge(
            &r[0],
            &Backoff::stomp("2", "2000", "30720").unwrap(),
            tol,
            "STOMP frame",
            "refusing ERROR",
        );
        assert!(!ok);
        assert!(
            why.contains(
                "STOMP frame at 2026-01-01T00:00:01.210Z, 1200 ms after the refusing ERROR"
            ) && why.contains("outside the window 2000 to 4000 ms ± 100 ms"),
            "{why}"
        );
    }

    #[test]
    fn a_refusal_without_a_later_attempt_is_not_a_retry() {
        assert!(retries(&[E("2026-01-01T00:00:00.010Z", true, false)]).is_empty());
        assert!(validate("s", 0, None).is_err());
        assert!(validate("s", 2, Some(600_001)).is_err());
        assert!(validate("s", 2, None).is_ok());
    }
}
