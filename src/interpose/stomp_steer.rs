//! What a test case can make the STOMP broker seem to say (sans-I/O): the
//! changes applied to CONNECTED on its way to the Agent, the ERROR frame
//! that refuses a connection, and the ERROR frame injected into a live one.
//! The spec facts steered here: the CONNECTED header `subscribe-dest`
//! (R-STOMP.6/14), the negotiated `heart-beat` (R-STOMP.11) and an ERROR
//! frame from the broker, after which the Agent retries (R-STOMP.25).

use serde::Deserialize;

use crate::mtp::stomp::frame::Frame;

/// The CONNECTED header naming the destination to subscribe to (R-STOMP.6).
pub const SUBSCRIBE_DEST: &str = "subscribe-dest";
/// The STOMP 1.2 heart-beat header (`<sx>,<sy>` on CONNECTED).
pub const HEART_BEAT: &str = "heart-beat";

/// `stomp_steer: {...}`: applied to the next connection the interposer
/// accepts (and to no later one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Steering {
    /// CONNECTED `subscribe-dest`: added, or replacing the broker's.
    pub subscribe_dest: Option<String>,
    /// Remove the `subscribe-dest` the broker sent.
    #[serde(default)]
    pub remove_subscribe_dest: bool,
    /// CONNECTED `heart-beat` (`<sx>,<sy>` in ms): added or replacing the broker's.
    pub heart_beat: Option<String>,
    /// Remove the broker's `heart-beat` (STOMP 1.2: no heart-beats then).
    #[serde(default)]
    pub remove_heart_beat: bool,
    /// Send the Agent's live connection an ERROR frame with this `message`
    /// header, then close it (as a broker does after ERROR).
    pub error: Option<String>,
    /// Refuse this many connection attempts first (ERROR in answer to the
    /// STOMP frame, then close), then accept again.
    #[serde(default)]
    pub refuse_connections: u32,
    /// Close the Agent's live connection so the steering takes effect now;
    /// default true. (With `error`, the ERROR frame closes it.)
    #[serde(default = "yes")]
    pub reconnect: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SteerError {
    #[error(
        "heart_beat '{0}' is not <sx>,<sy> (two whole numbers of milliseconds, e.g. \"1000,1000\")"
    )]
    HeartBeat(String),
    #[error("{0} and remove_{0} contradict each other; give one")]
    Contradiction(&'static str),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// `(x, y)` from a `heart-beat` value such as `1000,0`.
pub fn parse_heart_beat(value: &str) -> Option<(u64, u64)> {
    let (a, b) = value.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

impl Steering {
    /// Checks the values before the run, so a typo is a load error.
    pub fn validate(&self) -> Result<(), SteerError> {
        if let Some(h) = &self.heart_beat {
            parse_heart_beat(h).ok_or_else(|| SteerError::HeartBeat(h.clone()))?;
            if self.remove_heart_beat {
                return Err(SteerError::Contradiction("heart_beat"));
            }
        }
        match &self.subscribe_dest {
            Some(d) if d.is_empty() => return Err(SteerError::Empty("subscribe_dest")),
            Some(_) if self.remove_subscribe_dest => {
                return Err(SteerError::Contradiction("subscribe_dest"))
            }
            _ => {}
        }
        if self.error.as_deref() == Some("") {
            return Err(SteerError::Empty("error"));
        }
        Ok(())
    }

    /// Whether the steering kicks the Agent's live connection.
    pub fn kicks(&self) -> bool {
        self.reconnect || self.error.is_some()
    }

    /// Rewrites a frame going to the Agent; `Some(note)` says what changed.
    /// Only CONNECTED is steered.
    pub fn to_agent(&self, frame: &mut Frame) -> Option<String> {
        if frame.command != "CONNECTED" {
            return None;
        }
        let mut notes = Vec::new();
        if self.remove_subscribe_dest && frame.get(SUBSCRIBE_DEST).is_some() {
            frame.headers.retain(|(n, _)| n != SUBSCRIBE_DEST);
            notes.push("subscribe-dest removed".to_string());
        }
        if let Some(d) = &self.subscribe_dest {
            set_header(frame, SUBSCRIBE_DEST, d);
            notes.push(format!("subscribe-dest '{d}'"));
        }
        if self.remove_heart_beat && frame.get(HEART_BEAT).is_some() {
            frame.headers.retain(|(n, _)| n != HEART_BEAT);
            notes.push("heart-beat removed".to_string());
        }
        if let Some(h) = &self.heart_beat {
            set_header(frame, HEART_BEAT, h);
            notes.push(format!("heart-beat '{h}'"));
        }
        (!notes.is_empty()).then(|| format!("CONNECTED steered: {}", notes.join(", ")))
    }
}

/// Replaces every occurrence of `name` with one header holding `value`.
fn set_header(frame: &mut Frame, name: &str, value: &str) {
    frame.headers.retain(|(n, _)| n != name);
    frame.headers.push((name.to_string(), value.to_string()));
}

/// The ERROR frame that refuses a connection attempt (a broker answers a
/// CONNECT/STOMP frame it will not accept with ERROR, then closes).
pub fn refusal(left: u32) -> Frame {
    Frame::new("ERROR")
        .header("message", "connection refused by the interposer")
        .header("content-type", "text/plain")
        .body_with_length(
            format!("usp-plugfest refuses this connection ({left} more to refuse)").as_bytes(),
        )
}

/// The ERROR frame injected into a live connection.
pub fn error(message: &str) -> Frame {
    Frame::new("ERROR").header("message", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected() -> Frame {
        Frame::new("CONNECTED")
            .header("version", "1.2")
            .header("heart-beat", "10000,2000")
            .header("subscribe-dest", "/queue/broker")
    }

    #[test]
    fn connected_headers_are_added_replaced_and_removed() {
        let s = Steering {
            subscribe_dest: Some("/queue/steered".into()),
            heart_beat: Some("1000,1000".into()),
            ..Steering::default()
        };
        let mut f = connected();
        let note = s.to_agent(&mut f).unwrap();
        assert_eq!(f.get("subscribe-dest"), Some("/queue/steered"));
        assert_eq!(f.get("heart-beat"), Some("1000,1000"));
        assert_eq!(f.headers.len(), 3, "{f:?}");
        assert!(note.contains("/queue/steered"), "{note}");

        let s = Steering {
            remove_subscribe_dest: true,
            remove_heart_beat: true,
            ..Steering::default()
        };
        let mut f = connected();
        s.to_agent(&mut f).unwrap();
        assert_eq!(f.get("subscribe-dest"), None);
        assert_eq!(f.get("heart-beat"), None);
    }

    #[test]
    fn only_connected_is_steered_and_empty_steering_changes_nothing() {
        let s = Steering {
            subscribe_dest: Some("/queue/x".into()),
            ..Steering::default()
        };
        let mut m = Frame::new("MESSAGE").header("destination", "/queue/a");
        assert_eq!(s.to_agent(&mut m), None);
        let mut f = connected();
        assert_eq!(Steering::default().to_agent(&mut f), None);
        assert_eq!(f, connected());
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = |s: Steering| s.validate().unwrap_err().to_string();
        assert!(bad(Steering {
            heart_beat: Some("1000".into()),
            ..Steering::default()
        })
        .contains("<sx>,<sy>"));
        assert!(bad(Steering {
            subscribe_dest: Some("/queue/a".into()),
            remove_subscribe_dest: true,
            ..Steering::default()
        })
        .contains("contradict"));
        assert!(bad(Steering {
            subscribe_dest: Some(String::new()),
            ..Steering::default()
        })
        .contains("empty"));
        assert_eq!(parse_heart_beat(" 5, 0"), Some((5, 0)));
    }

    #[test]
    fn refusal_and_error_are_error_frames() {
        assert_eq!(refusal(1).command, "ERROR");
        assert_eq!(error("go away").get("message"), Some("go away"));
    }
}
