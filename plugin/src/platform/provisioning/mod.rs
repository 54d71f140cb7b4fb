//! Reads and writes on behalf of a provisioning client (SCIM). A client sees and changes only
//! what its source created. Each write runs in one transaction: it checks the object is the
//! source's, lets the client's protocol decide the change inside that transaction (a closure:
//! the body and a PATCH of it are the bridge's to interpret), and writes the change with its
//! audit records, joiner / mover / leaver events (through [`super::lifecycle`]) and new
//! versions.
//!
//! Writes are generic over the caller's error type: the closure's own errors pass through
//! untouched, and the platform's refusals ([`Refusal`]) and failures convert into it, so the
//! protocol words every error in one place.

mod groups;
mod users;

use uuid::Uuid;

use super::lifecycle::Writer;
use super::{Platform, Provisioner};
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::User;
use crate::domain::provisioned::Refusal;
use crate::store::{Connection, audit};

/// What a provisioning write's error type must take in: the platform's failures and its
/// refusals.
pub trait ProvisioningError: From<crate::Error> + From<Refusal> + Send {}

impl<E: From<crate::Error> + From<Refusal> + Send> ProvisioningError for E {}

impl Platform {
    /// The client's token and source, as the audit log names who wrote.
    fn provisioning_writer(&self, who: &Provisioner, correlation_id: Option<Uuid>) -> Writer {
        Writer {
            initiator: Initiator {
                kind: "app".into(),
                id: Some(who.token_id.to_string()),
                display_name: who.source.clone(),
            },
            correlation_id,
            now: self.now(),
        }
    }
}

/// Audits that the client offered write-only values (`discarded`: their names) that were
/// dropped unread. The record names the attributes, never their values: tapbridge accounts
/// have no password, so a password a client pushes is neither stored nor checked.
async fn audit_discarded(
    conn: &mut Connection,
    w: &Writer,
    user: &User,
    discarded: &[String],
) -> crate::Result<()> {
    if discarded.is_empty() {
        return Ok(());
    }
    let record = AuditRecord::new(Activity::UserUpdated, w.initiator.clone(), w.now)
        .reason(format!(
            "the provisioning client offered {}; tapbridge accounts are passwordless, so it was \
             discarded and not stored",
            discarded.join(", ")
        ))
        .target("User", user.id, Some(&user.user_principal_name))
        .detail("discardedAttributes", discarded.join(","))
        .correlation(w.correlation_id);
    audit::insert(conn, &record).await
}

/// A user write's `Conflict` (the name or anchor is taken) as the refusal the client sees.
fn user_taken<E: ProvisioningError>(e: crate::Error) -> E {
    match e {
        crate::Error::Conflict(detail) => Refusal::UserTaken(detail).into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests;
