//! Browser sessions: opened by a Temporary Access Pass (bootstrap) or a passkey (full), found
//! again from their cookie, ended by signing out or by a leaver's revocation.
//!
//! A cookie is `id.secret`: `id` finds the row, `secret` is checked against its keyed hash in
//! constant time. Neither the secret nor the cookie is stored or logged.
//!
//! A bootstrap session lives only as long as its pass could still open it. What happens to a
//! pass (deleted, replaced, locked after wrong codes) ends its sessions in the same
//! transaction ([`end_sessions_of_pass`]); what holds of it (expiry, policy off, the user no
//! longer targeted, account disabled) is checked again on every request of the session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tracing::instrument;
use uuid::Uuid;

use super::passkeys::Passwordless;
use super::taps::{PassAttempt, usability_context};
use crate::domain::actor::{Actor, Principal};
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::User;
use crate::domain::session::{OpeningPass, Session, SessionKind};
use crate::secret::{SecretString, random_bytes};
use crate::store::{Connection, audit, sessions, taps, users};
use crate::{Error, Result};

/// A session just opened. `cookie` is the only copy of its secret.
#[derive(Debug)]
pub struct OpenedSession {
    pub session: Session,
    pub user: User,
    pub cookie: SecretString,
}

/// A live session and its (enabled) user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

impl SignedIn {
    /// The user as an actor of platform operations: their own roles, nothing more.
    pub fn actor(&self) -> Actor {
        Actor {
            principal: Principal::User {
                id: self.user.id,
                user_principal_name: self.user.user_principal_name.clone(),
            },
            roles: self.user.roles.clone(),
        }
    }
}

impl Passwordless {
    /// Stores a new session for `user` and returns its cookie value.
    pub(super) async fn open_session(
        &self,
        conn: &mut Connection,
        user: &User,
        kind: SessionKind,
        pass: Option<OpeningPass>,
    ) -> Result<OpenedSession> {
        let id = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let session = Session::open(
            id.clone(),
            user.id,
            kind,
            &self.settings.timeouts,
            pass,
            self.platform.now(),
        );
        let hash = self.session_hasher.hash(id.as_bytes(), secret.as_bytes());
        // Housekeeping where sessions are made: ended ones never pile up.
        sessions::purge_expired(conn, session.created_at).await?;
        sessions::insert(conn, &session, &hash).await?;
        Ok(OpenedSession {
            session,
            user: user.clone(),
            cookie: SecretString::new(format!("{id}.{secret}")),
        })
    }

    /// Redeems a pass (atomically, with lock-out counting) and opens a bootstrap session bound
    /// to it, in one transaction: the session never exists without its pass. It ends when the
    /// pass expires or after the bootstrap window, whichever comes first, and sooner if the
    /// pass stops being usable.
    #[instrument(skip_all)]
    pub async fn sign_in_with_pass(&self, attempt: PassAttempt<'_>) -> Result<OpenedSession> {
        let mut tx = self.platform.store.write().await?;
        let opened = match self.platform.redeem_in(&mut tx, attempt).await? {
            Some(redeemed) => {
                let pass = OpeningPass {
                    id: redeemed.tap_id,
                    expires_at: redeemed.expires_at,
                };
                let opened = self
                    .open_session(&mut tx, &redeemed.user, SessionKind::Bootstrap, Some(pass))
                    .await?;
                Some(opened)
            }
            None => None,
        };
        tx.commit().await?;
        self.platform.count_redemption(opened.is_some());
        opened.ok_or(Error::InvalidPass)
    }

    /// The live session a cookie names, with its user; `None` for a missing, malformed,
    /// forged, expired or revoked cookie, or a disabled account. Pushes the idle deadline
    /// forward now and then.
    pub async fn session(&self, cookie: &str) -> Result<Option<SignedIn>> {
        let Some((id, secret)) = cookie.split_once('.') else {
            return Ok(None);
        };
        if id.len() > 64 || secret.len() > 128 {
            return Ok(None);
        }
        let now = self.platform.now();
        let mut conn = self.platform.store.read().await?;
        let Some((session, hash)) = sessions::get(&mut conn, id).await? else {
            return Ok(None);
        };
        if !self
            .session_hasher
            .verify(id.as_bytes(), secret.as_bytes(), &hash)
            || !session.is_live(now)
        {
            return Ok(None);
        }
        let Some(user) = users::get(&mut conn, session.user_id).await? else {
            return Ok(None);
        };
        if !user.account_enabled {
            return Ok(None);
        }
        if session.kind == SessionKind::Bootstrap
            && let Some(why) = self.pass_refuses(&mut conn, &session, &user, now).await?
        {
            drop(conn);
            self.end_bootstrap_session(&session, &user, &why).await?;
            return Ok(None);
        }
        drop(conn);
        let session = match session.touched(&self.settings.timeouts, now) {
            Some(touched) => {
                let mut tx = self.platform.store.write().await?;
                sessions::touch(&mut tx, &touched).await?;
                tx.commit().await?;
                touched
            }
            None => session,
        };
        Ok(Some(SignedIn { session, user }))
    }

    /// Why a bootstrap session may not go on, if it may not: its pass is gone, or would no
    /// longer admit the session (expired, locked, policy off, user no longer targeted).
    async fn pass_refuses(
        &self,
        conn: &mut Connection,
        session: &Session,
        user: &User,
        now: time::OffsetDateTime,
    ) -> Result<Option<String>> {
        let pass = match session.tap_id {
            Some(id) => taps::get(conn, id).await?,
            None => None,
        };
        let Some(pass) = pass.filter(|p| p.user_id == user.id) else {
            return Ok(Some("its pass no longer exists".into()));
        };
        let policy = self.platform.load_tap_policy(conn).await?;
        let ctx = usability_context(conn, &policy, user).await?;
        let usability = pass.usability_for_its_session(ctx, now);
        if usability.is_usable() {
            return Ok(None);
        }
        let why = usability
            .detail
            .map_or(usability.reason.as_str(), |d| d.as_str());
        Ok(Some(format!("its pass is no longer usable: {why}")))
    }

    /// Ends a bootstrap session found unfit at its request; audited once, by whichever
    /// request deletes it.
    async fn end_bootstrap_session(&self, session: &Session, user: &User, why: &str) -> Result<()> {
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        if sessions::delete(&mut tx, &session.id).await? {
            let mut record = AuditRecord::new(Activity::SessionsRevoked, tapbridge(), now)
                .reason(format!("revoked: {why}"))
                .target("User", user.id, Some(&user.user_principal_name))
                .detail("count", 1)
                .detail("sessionKind", session.kind.as_str());
            if let Some(tap_id) = session.tap_id {
                record = record.detail("temporaryAccessPassId", tap_id);
            }
            audit::insert(&mut tx, &record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends the session.
    pub async fn sign_out(&self, signed_in: &SignedIn) -> Result<()> {
        let mut tx = self.platform.store.write().await?;
        sessions::delete(&mut tx, &signed_in.session.id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A token bound to the session for forms and scripts to send back on every change
    /// (synchronizer pattern). Derived, so it needs no storage; keyed, so it cannot be made
    /// without the server secret.
    pub fn csrf_token(&self, session: &Session) -> String {
        URL_SAFE_NO_PAD.encode(self.session_hasher.hash(b"csrf", session.id.as_bytes()))
    }

    /// Constant-time check of a token from [`Self::csrf_token`].
    pub fn check_csrf(&self, session: &Session, token: &str) -> Result<()> {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token.trim()) else {
            return Err(Error::forbidden("the form has expired"));
        };
        if self
            .session_hasher
            .verify(b"csrf", session.id.as_bytes(), &raw)
        {
            Ok(())
        } else {
            Err(Error::forbidden("the form has expired"))
        }
    }
}

/// The platform itself, as the initiator of what it does on its own.
fn tapbridge() -> Initiator {
    (&Actor::service("tapbridge")).into()
}

/// Ends the bootstrap sessions opened with pass `tap_id`, inside the caller's transaction (the
/// one that deletes, replaces or locks the pass); audited with `reason` when there were any.
/// Returns how many ended.
pub(crate) async fn end_sessions_of_pass(
    conn: &mut Connection,
    tap_id: Uuid,
    user: &User,
    initiator: Initiator,
    reason: &str,
    correlation_id: Option<Uuid>,
    now: time::OffsetDateTime,
) -> Result<u64> {
    let ended = sessions::delete_for_tap(conn, tap_id).await?;
    if ended > 0 {
        let record = AuditRecord::new(Activity::SessionsRevoked, initiator, now)
            .reason(format!("revoked: {reason}"))
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("count", ended)
            .detail("sessionKind", SessionKind::Bootstrap.as_str())
            .detail("temporaryAccessPassId", tap_id)
            .correlation(correlation_id);
        audit::insert(conn, &record).await?;
    }
    Ok(ended)
}
