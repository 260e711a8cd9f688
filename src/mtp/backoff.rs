//! The reconnection back-off every USP MTP client shares, as pure
//! arithmetic (sans-I/O): retry `n` (1-based, counted since the last
//! successful connection) waits a random time in the window
//! `[m·(k/1000)^(n-1), m·(k/1000)^n]` seconds, where `m` is the minimum
//! wait and `k` the interval multiplier in thousandths.
//!
//! The same rule under three sets of parameter names:
//! - MQTT: `Device.MQTT.Client.{i}.ConnectRetryTime` (m, default 5 s),
//!   `ConnectRetryIntervalMultiplier` (k, default 2000) and
//!   `ConnectRetryMaxInterval` (the cap, default 30720 s); TP-469 11.16.
//! - STOMP: `Device.STOMP.Connection.{i}.ServerRetryInitialInterval` (m,
//!   default 60 s), `ServerRetryIntervalMultiplier` (k, default 2000),
//!   `ServerRetryMaxInterval` (the cap, default 30720 s); TP-469 6.x.
//! - WebSocket: `...Controller.{i}.MTP.{i}.WebSocket.SessionRetryMinimumWaitInterval`
//!   (m, default 5 s) and `SessionRetryIntervalMultiplier` (k, default
//!   2000), no cap interval, but from the 10th retry on the window stays
//!   that of the 10th (R-WS.19-21).
//!
//! Both ends of a window are capped by the maximum interval when there is
//! one. The runner checks an Agent's observed waits against `Window`s;
//! the reference Agent picks its waits with `Backoff::wait`.

use std::time::Duration;

/// One MTP's back-off parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// `m`: the shortest first wait.
    pub min_wait: Duration,
    /// `k`: the interval multiplier in thousandths (2000 = ×2.0).
    pub multiplier: u32,
    /// The longest any wait may be (MQTT ConnectRetryMaxInterval, STOMP
    /// ServerRetryMaxInterval); `None` for WebSocket.
    pub max_interval: Option<Duration>,
    /// From this retry on the window no longer grows (10 for WebSocket,
    /// R-WS.19-21); `None` when only `max_interval` bounds it.
    pub last_growing_retry: Option<u32>,
}

/// The range one retry's wait must fall in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub min: Duration,
    pub max: Duration,
}

impl Window {
    /// Whether `wait` is inside the window widened by `tolerance` on both sides.
    pub fn contains(&self, wait: Duration, tolerance: Duration) -> bool {
        wait + tolerance >= self.min && wait <= self.max + tolerance
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {} ms", self.min.as_millis(), self.max.as_millis())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackoffError {
    #[error("{name} '{value}' is not a whole number")]
    NotANumber { name: String, value: String },
    #[error("{name} {value} is out of range ({range})")]
    OutOfRange {
        name: String,
        value: u64,
        range: &'static str,
    },
}

impl Backoff {
    /// MQTT's parameters (Device.MQTT.Client.{i}.): ConnectRetryTime in
    /// seconds (min 1), ConnectRetryIntervalMultiplier (1000..=65535),
    /// ConnectRetryMaxInterval in seconds (min 1).
    pub fn mqtt(
        retry_time: &str,
        multiplier: &str,
        max_interval: &str,
    ) -> Result<Self, BackoffError> {
        Ok(Backoff {
            min_wait: seconds("ConnectRetryTime", retry_time)?,
            multiplier: thousandths("ConnectRetryIntervalMultiplier", multiplier)?,
            max_interval: Some(seconds("ConnectRetryMaxInterval", max_interval)?),
            last_growing_retry: None,
        })
    }

    /// STOMP's parameters (Device.STOMP.Connection.{i}.):
    /// ServerRetryInitialInterval, ServerRetryIntervalMultiplier,
    /// ServerRetryMaxInterval.
    pub fn stomp(
        initial: &str,
        multiplier: &str,
        max_interval: &str,
    ) -> Result<Self, BackoffError> {
        Ok(Backoff {
            min_wait: seconds("ServerRetryInitialInterval", initial)?,
            multiplier: thousandths("ServerRetryIntervalMultiplier", multiplier)?,
            max_interval: Some(seconds("ServerRetryMaxInterval", max_interval)?),
            last_growing_retry: None,
        })
    }

    /// WebSocket's parameters (Controller.{i}.MTP.{i}.WebSocket.):
    /// SessionRetryMinimumWaitInterval, SessionRetryIntervalMultiplier.
    pub fn websocket(min_wait: &str, multiplier: &str) -> Result<Self, BackoffError> {
        Ok(Backoff {
            min_wait: seconds("SessionRetryMinimumWaitInterval", min_wait)?,
            multiplier: thousandths("SessionRetryIntervalMultiplier", multiplier)?,
            max_interval: None,
            last_growing_retry: Some(10),
        })
    }

    /// An E2E session context's parameters (Controller.{i}.E2ESession.):
    /// SessionRetryMinimumWaitInterval, SessionRetryIntervalMultiplier, the
    /// same pattern as WebSocket's ("other values in the retry pattern
    /// calculated using this value as a starting point", TR-181).
    pub fn e2e_session(min_wait: &str, multiplier: &str) -> Result<Self, BackoffError> {
        Self::websocket(min_wait, multiplier)
    }

    /// The window of retry `n` (1 = the first retry after a failure; 0 is
    /// treated as 1).
    pub fn window(&self, n: u32) -> Window {
        let n = n.max(1);
        let n = self.last_growing_retry.map_or(n, |last| n.min(last));
        let m = self.min_wait.as_secs_f64();
        let k = f64::from(self.multiplier) / 1000.0;
        let cap = |secs: f64| {
            // Exponents of big n overflow f64 to inf: the cap (or a day)
            // bounds it first.
            let limit = self
                .max_interval
                .map_or(86_400.0 * 365.0, |d| d.as_secs_f64());
            Duration::from_secs_f64(secs.min(limit))
        };
        Window {
            min: cap(m * k.powi(n as i32 - 1)),
            max: cap(m * k.powi(n as i32)),
        }
    }

    /// A wait inside retry `n`'s window, `unit` in [0, 1] picking where
    /// (the caller brings the randomness).
    pub fn wait(&self, n: u32, unit: f64) -> Duration {
        let w = self.window(n);
        let span = w.max.saturating_sub(w.min).as_secs_f64();
        w.min + Duration::from_secs_f64(span * unit.clamp(0.0, 1.0))
    }
}

fn number(name: &str, value: &str) -> Result<u64, BackoffError> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| BackoffError::NotANumber {
            name: name.into(),
            value: value.into(),
        })
}

fn seconds(name: &str, value: &str) -> Result<Duration, BackoffError> {
    match number(name, value)? {
        0 => Err(BackoffError::OutOfRange {
            name: name.into(),
            value: 0,
            range: "at least 1 second",
        }),
        s => Ok(Duration::from_secs(s)),
    }
}

fn thousandths(name: &str, value: &str) -> Result<u32, BackoffError> {
    match number(name, value)? {
        k @ 1000..=65535 => Ok(k as u32),
        k => Err(BackoffError::OutOfRange {
            name: name.into(),
            value: k,
            range: "1000 to 65535",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn default_mqtt_windows_double_from_connect_retry_time() {
        let b = Backoff::mqtt("5", "2000", "30720").unwrap();
        assert_eq!(
            b.window(1),
            Window {
                min: secs(5.0),
                max: secs(10.0)
            }
        );
        assert_eq!(
            b.window(2),
            Window {
                min: secs(10.0),
                max: secs(20.0)
            }
        );
        assert_eq!(
            b.window(3),
            Window {
                min: secs(20.0),
                max: secs(40.0)
            }
        );
        // 0 counts as the first retry.
        assert_eq!(b.window(0), b.window(1));
    }

    #[test]
    fn the_max_interval_caps_both_ends() {
        let b = Backoff::mqtt("5", "2000", "30").unwrap();
        assert_eq!(
            b.window(3),
            Window {
                min: secs(20.0),
                max: secs(30.0)
            }
        );
        assert_eq!(
            b.window(4),
            Window {
                min: secs(30.0),
                max: secs(30.0)
            }
        );
        // No overflow for absurd retry counts.
        assert_eq!(b.window(5000).max, secs(30.0));
    }

    #[test]
    fn websocket_windows_stop_growing_at_the_tenth_retry() {
        let b = Backoff::websocket("5", "2000").unwrap();
        assert_eq!(
            b.window(10),
            Window {
                min: secs(2560.0),
                max: secs(5120.0)
            }
        );
        assert_eq!(b.window(11), b.window(10));
        assert_eq!(
            b.window(1),
            Window {
                min: secs(5.0),
                max: secs(10.0)
            }
        );
    }

    #[test]
    fn stomp_uses_its_initial_interval() {
        let b = Backoff::stomp("60", "2000", "30720").unwrap();
        assert_eq!(
            b.window(1),
            Window {
                min: secs(60.0),
                max: secs(120.0)
            }
        );
    }

    #[test]
    fn a_multiplier_of_1000_gives_a_fixed_wait() {
        let b = Backoff::mqtt("1", "1000", "30720").unwrap();
        assert_eq!(
            b.window(7),
            Window {
                min: secs(1.0),
                max: secs(1.0)
            }
        );
        assert_eq!(b.wait(7, 0.5), secs(1.0));
    }

    #[test]
    fn waits_stay_inside_their_window() {
        let b = Backoff::mqtt("1", "1500", "30720").unwrap();
        assert_eq!(b.wait(2, 0.0), secs(1.5));
        assert_eq!(b.wait(2, 1.0), secs(2.25));
        assert_eq!(b.wait(2, 7.0), secs(2.25));
        let w = b.window(2);
        assert!(w.contains(secs(2.0), Duration::ZERO));
        assert!(!w.contains(secs(1.2), Duration::ZERO));
        assert!(w.contains(secs(1.2), secs(0.3)));
        assert!(!w.contains(secs(2.7), secs(0.3)));
        assert_eq!(w.to_string(), "1500 to 2250 ms");
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = Backoff::mqtt("0", "2000", "30720").unwrap_err();
        assert!(e.to_string().contains("ConnectRetryTime 0"), "{e}");
        let e = Backoff::mqtt("5", "999", "30720").unwrap_err();
        assert!(e.to_string().contains("1000 to 65535"), "{e}");
        let e = Backoff::stomp("x", "2000", "1").unwrap_err();
        assert!(
            e.to_string().contains("ServerRetryInitialInterval 'x'"),
            "{e}"
        );
    }
}
