//! A pass an administrator creates on the web pages, handed over post/redirect/get: the POST
//! issues it and keeps it sealed under the administrator's session and the form's id; the page
//! it redirects to takes it out, once. The same form sent again (a reload of the POST, a
//! double click) finds the first one's row and creates nothing.

use time::Duration;
use uuid::Uuid;

use super::sessions::SignedIn;
use super::{Caller, Passwordless};
use crate::domain::directory::UserRef;
use crate::domain::tap_policy::TapRequest;
use crate::metrics::inc;
use crate::secret::SecretString;
use crate::store::handovers::{self, Handover};
use crate::{Error, Result};

/// How long a created pass waits, sealed, for its page: the redirect follows at once, so a
/// few minutes cover a slow network and nothing more.
pub const HANDOVER_TTL: Duration = Duration::minutes(5);

/// A pass taken out for its one showing.
#[derive(Debug)]
pub struct HandedOver {
    pub user_id: Uuid,
    pub tap_id: Uuid,
    pub pass: SecretString,
}

/// Whether a form asked for a new pass or had asked already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issued {
    New,
    /// This form created a pass before (for the user named); nothing was created now.
    Already {
        user_id: Uuid,
    },
}

/// A form id as the pages make them: 16–64 URL-safe characters.
pub fn valid_form_id(id: &str) -> bool {
    (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a sealed pass is bound to: its row and the pass record.
fn seal_context(session_id: &str, form_id: &str, user_id: Uuid, tap_id: Uuid) -> Vec<u8> {
    format!("{session_id}\0{form_id}\0{user_id}\0{tap_id}").into_bytes()
}

impl Passwordless {
    /// Issues a pass for `user` as `caller` (the signed-in administrator, roles checked as for
    /// any pass) and keeps it sealed for the page that shows it, under `form_id`. A `form_id`
    /// seen before creates nothing.
    pub async fn issue_pass_for_page(
        &self,
        signed_in: &SignedIn,
        caller: &Caller,
        user: &UserRef,
        request: TapRequest,
        form_id: &str,
    ) -> Result<Issued> {
        if !valid_form_id(form_id) {
            return Err(Error::invalid("the form is malformed"));
        }
        let session_id = &signed_in.session.id;
        let now = self.platform.now();
        // Under the writer lock: a second submission of the same form waits for the first
        // to commit and then finds its row.
        let mut tx = self.platform.store.write().await?;
        if let Some(user_id) = handovers::user_of(&mut tx, session_id, form_id).await? {
            return Ok(Issued::Already { user_id });
        }
        handovers::wipe_expired(&mut tx, now).await?;
        let issued = self
            .platform
            .issue_tap_in(&mut tx, caller, user, request)
            .await?;
        let (user_id, tap_id) = (issued.user.id, issued.view.record.id);
        let sealed = self.pass_sealer.seal(
            &seal_context(session_id, form_id, user_id, tap_id),
            &issued.pass,
        );
        handovers::insert(
            &mut tx,
            &Handover {
                session_id: session_id.clone(),
                form_id: form_id.to_owned(),
                user_id,
                tap_id,
                sealed: Some(sealed),
                created_at: now,
                expires_at: now + HANDOVER_TTL,
            },
        )
        .await?;
        tx.commit().await?;
        inc(&self.platform.metrics.taps_issued);
        Ok(Issued::New)
    }

    /// The pass `form_id` created in this session for `user_id`, the first time it is asked
    /// for; `None` after that, for another user, or once [`HANDOVER_TTL`] has passed.
    pub async fn take_pass_for_page(
        &self,
        signed_in: &SignedIn,
        form_id: &str,
        user_id: Uuid,
    ) -> Result<Option<HandedOver>> {
        if !valid_form_id(form_id) {
            return Ok(None);
        }
        let session_id = &signed_in.session.id;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let taken = handovers::take(&mut tx, session_id, form_id, user_id, now).await?;
        handovers::wipe_expired(&mut tx, now).await?;
        tx.commit().await?;
        let Some((user_id, tap_id, sealed)) = taken else {
            return Ok(None);
        };
        let pass = self
            .pass_sealer
            .open(&seal_context(session_id, form_id, user_id, tap_id), &sealed)
            .ok_or_else(|| Error::Internal("a sealed pass does not open".into()))?;
        Ok(Some(HandedOver {
            user_id,
            tap_id,
            pass,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_ids() {
        assert!(valid_form_id("abcdefghijklmnop"));
        assert!(valid_form_id("A-_0123456789abcdefgh"));
        assert!(!valid_form_id("short"));
        assert!(!valid_form_id("abcdefghijklmnop!"));
        assert!(!valid_form_id(&"a".repeat(65)));
    }
}
