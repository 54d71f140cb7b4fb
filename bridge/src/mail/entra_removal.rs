//! Deleting a leaver's pass in Entra. The leaver's transaction only marks their messages
//! (the platform's consumption of leaver events); this job makes the calls, outside any
//! transaction, and records each outcome with its audit record. A pass whose id a crash lost
//! is found by when it was created: after the message asked for it.
//!
//! Only passes tapbridge created are deleted; one the user had from elsewhere is not touched.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plugin::domain::audit::{Activity, AuditRecord, Initiator};
use plugin::domain::outbox::Removal;
use plugin::platform::Platform;
use plugin::platform::RemovalOutcome;
use tokio::sync::watch;

use crate::entra::{Entra, EntraError};
use crate::error::Result;

/// Clock difference allowed between tapbridge and Entra (see [`super::entra::is_ours`]).
const SKEW: time::Duration = time::Duration::minutes(5);

pub struct Removals {
    platform: Arc<Platform>,
    entra: Arc<Entra>,
    poll_interval: Duration,
    /// Wait after Entra could not be reached.
    retry: Duration,
    deleted: AtomicU64,
    failed: AtomicU64,
}

fn initiator() -> Initiator {
    Initiator {
        kind: "service".into(),
        id: None,
        display_name: "onboarding (Entra)".into(),
    }
}

enum Step {
    /// Deleted (`true`) or already gone (`false`), per pass.
    Done(Vec<(String, bool)>),
    Later(time::OffsetDateTime, String),
    Failed(String),
}

impl Removals {
    pub fn new(
        platform: Arc<Platform>,
        entra: Arc<Entra>,
        poll_interval: Duration,
        retry: Duration,
    ) -> Removals {
        Removals {
            platform,
            entra,
            poll_interval,
            retry,
            deleted: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Works through due removals until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            match self.remove_due().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "deleting leavers' passes in Entra failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll_interval) => {}
                () = async { let _ = stop.wait_for(|s| *s).await; } => return,
            }
        }
    }

    /// Handles the due removals; returns how many.
    pub async fn remove_due(&self) -> Result<usize> {
        let due = self.platform.due_entra_removals(50).await?;
        let n = due.len();
        for r in due {
            let step = self.remove(&r).await;
            let now = self.platform.now();
            let outcome = match &step {
                Step::Done(passes) => RemovalOutcome::Done(
                    passes
                        .iter()
                        .map(|(id, existed)| {
                            AuditRecord::new(Activity::EntraPassDeleted, initiator(), now)
                                .target("User", r.user_id, None)
                                .reason(if *existed {
                                    "the user left"
                                } else {
                                    "the user left; the pass was gone already"
                                })
                                .detail("message", r.message)
                                .detail("entraUserId", r.entra_user_id.as_deref().unwrap_or("-"))
                                .detail("entraMethodId", id)
                        })
                        .collect(),
                ),
                Step::Later(at, why) => RemovalOutcome::Later {
                    next: *at,
                    why: why.clone(),
                },
                Step::Failed(why) => RemovalOutcome::Failed {
                    why: why.clone(),
                    record: Box::new(
                        AuditRecord::new(Activity::EntraPassDeleted, initiator(), now)
                            .target("User", r.user_id, None)
                            .failed(why.clone())
                            .detail("message", r.message)
                            .detail("entraUserId", r.entra_user_id.as_deref().unwrap_or("-")),
                    ),
                },
            };
            self.platform
                .finish_entra_removal(r.message, &outcome)
                .await?;
            match step {
                Step::Done(passes) => {
                    let gone = passes.iter().filter(|(_, existed)| *existed).count();
                    self.deleted.fetch_add(gone as u64, Ordering::Relaxed);
                    tracing::info!(message = %r.message, deleted = gone, "a leaver's pass deleted in Entra");
                }
                Step::Later(_, why) => {
                    tracing::info!(message = %r.message, reason = %why, "deleting a leaver's pass in Entra: later")
                }
                Step::Failed(why) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(message = %r.message, reason = %why, "could not delete a leaver's pass in Entra");
                }
            }
        }
        Ok(n)
    }

    async fn remove(&self, r: &Removal) -> Step {
        let graph = self.entra.graph();
        let Some(entra_user) = &r.entra_user_id else {
            return Step::Done(vec![]);
        };
        let ids = match (&r.method_id, r.minting_at) {
            (Some(id), _) => vec![id.clone()],
            // The pass was asked for but its id never reached the outbox: the one created
            // since then is this message's.
            (None, Some(asked)) => match graph.list_passes(entra_user).await {
                Ok(list) => list
                    .into_iter()
                    .filter(|p| p.created.is_some_and(|c| c >= asked - SKEW))
                    .map(|p| p.id)
                    .collect(),
                Err(EntraError::NotFound { .. }) => vec![],
                Err(e) => return self.later_or_failed(e),
            },
            (None, None) => vec![],
        };
        let mut done = Vec::new();
        for id in ids {
            match graph.delete_pass(entra_user, &id).await {
                Ok(existed) => done.push((id, existed)),
                Err(e) => return self.later_or_failed(e),
            }
        }
        Step::Done(done)
    }

    fn later_or_failed(&self, e: EntraError) -> Step {
        let now = self.platform.now();
        match &e {
            EntraError::Throttled { retry_after, .. } => {
                let wait = retry_after
                    .unwrap_or(self.retry)
                    .max(Duration::from_secs(1));
                Step::Later(
                    now + time::Duration::try_from(wait).unwrap_or(time::Duration::MINUTE),
                    e.to_string(),
                )
            }
            EntraError::Unavailable(_) => Step::Later(
                now + time::Duration::try_from(self.retry).unwrap_or(time::Duration::MINUTE),
                e.to_string(),
            ),
            EntraError::Refused { .. } | EntraError::NotFound { .. } => {
                Step::Failed(format!("Entra deleting the pass: {e}"))
            }
        }
    }

    /// Prometheus series.
    pub async fn metrics(&self) -> String {
        let pending = self.platform.pending_entra_removals().await.unwrap_or(0);
        let graph = self.entra.graph();
        format!(
            "# HELP tapbridge_entra_removals_pending Leavers' passes waiting to be deleted in Entra.\n\
             # TYPE tapbridge_entra_removals_pending gauge\ntapbridge_entra_removals_pending {pending}\n\
             # HELP tapbridge_entra_removals_total Leavers' passes deleted in Entra, and removals that failed.\n\
             # TYPE tapbridge_entra_removals_total counter\n\
             tapbridge_entra_removals_total{{outcome=\"deleted\"}} {}\n\
             tapbridge_entra_removals_total{{outcome=\"failed\"}} {}\n\
             # HELP tapbridge_entra_requests_total Requests sent to Entra.\n\
             # TYPE tapbridge_entra_requests_total counter\n\
             tapbridge_entra_requests_total{{endpoint=\"token\"}} {}\n\
             tapbridge_entra_requests_total{{endpoint=\"graph\"}} {}\n",
            self.deleted.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            graph.tokens().requested(),
            graph.sent(),
        )
    }
}
