//! Carrying out the core's Effects: an HTTP fetch per Download() on its own task, and
//! the reboot (drop every connection, stay away the restart time, let the core forget
//! what a reboot forgets, come back) of DRAFT-Reboot:1.

use std::time::Duration;

use super::{AgentHost, Outgoing};
use crate::agent::effects::{Clock, Effect};
use crate::agent::http_fetch;

/// The largest firmware image Download() accepts.
const MAX_IMAGE_BYTES: usize = 16 * 1024 * 1024;
/// How long a Download() may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

impl AgentHost {
    /// Carries out what the core asked for: reboots and HTTP fetches, each on its own task.
    pub(super) fn execute(&self, effects: Vec<Effect>) {
        for effect in effects {
            let me = self.clone();
            match effect {
                Effect::Reboot { cause, command_key } => {
                    tokio::spawn(async move { me.reboot(cause, command_key).await });
                }
                Effect::Download(job) => {
                    tokio::spawn(async move {
                        let fetched = tokio::time::timeout(
                            FETCH_TIMEOUT,
                            http_fetch::get(
                                &job.url,
                                &job.username,
                                &job.password,
                                MAX_IMAGE_BYTES,
                            ),
                        )
                        .await
                        .map_err(|_| {
                            format!("no complete answer within {} s", FETCH_TIMEOUT.as_secs())
                        })
                        .and_then(|r| r.map_err(|e| e.to_string()));
                        let (notes, effects) = {
                            let mut agent = me.agent.lock().await;
                            let notes = agent.download_finished(job.id, fetched, Clock::now());
                            (notes, agent.take_effects())
                        };
                        me.route(notes);
                        me.execute(effects);
                    });
                }
            }
        }
    }

    /// Drops every MTP connection, stays away for the restart time, lets the core
    /// forget what a reboot forgets, and comes back (DRAFT-Reboot:1).
    pub(super) async fn reboot(&self, cause: String, command_key: String) {
        if !self.is_up() {
            return;
        }
        self.say(format!("rebooting ({cause})"));
        self.shared.up.send_replace(false);
        {
            let routes = self.shared.routes.lock().unwrap_or_else(|e| e.into_inner());
            for (_, tx) in routes.values() {
                let _ = tx.send(Outgoing::Close);
            }
        }
        tokio::time::sleep(self.restart_delay).await;
        self.agent
            .lock()
            .await
            .reboot(&cause, &command_key, Clock::now());
        self.say("back up");
        self.shared.up.send_replace(true);
    }
}
