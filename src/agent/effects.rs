//! What the sans-I/O Agent core asks its runtime to do (reboot, fetch a file) and the
//! time the runtime passes in: the core never reads a clock nor touches a socket.

use std::time::Instant;

use chrono::{DateTime, Utc};

/// A moment as the core sees it: monotonic for timers, UTC for dateTime values.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub mono: Instant,
    pub utc: DateTime<Utc>,
}

impl Clock {
    /// The real time now (for the runtime; tests build their own Clocks).
    pub fn now() -> Clock {
        Clock {
            mono: Instant::now(),
            utc: Utc::now(),
        }
    }

    /// This clock `secs` seconds later.
    pub fn later(&self, d: std::time::Duration) -> Clock {
        Clock {
            mono: self.mono + d,
            utc: self.utc + chrono::Duration::from_std(d).unwrap_or_default(),
        }
    }

    /// TR-106 dateTime, UTC with "Z".
    pub fn date_time(&self) -> String {
        self.utc.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// An effect the runtime must carry out for the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Drop every MTP connection, wait the restart time, call `Agent::reboot`, come back.
    Reboot { cause: String, command_key: String },
    /// GET `url` over HTTP/1.1 and hand the body to `Agent::download_finished(id, ..)`.
    Download(DownloadJob),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadJob {
    pub id: u64,
    pub url: String,
    /// Basic auth when non-empty.
    pub username: String,
    pub password: String,
}
