//! Browser sessions: opened by a Temporary Access Pass (bootstrap) or a passkey (full), found
//! again from their cookie, ended by signing out or by a leaver's revocation.
//!
//! A cookie is `id.secret`: `id` finds the row, `secret` is checked against its keyed hash in
//! constant time. Neither the secret nor the cookie is stored or logged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tracing::instrument;
use uuid::Uuid;

use super::passkeys::Passwordless;
use crate::domain::actor::{Actor, Principal};
use crate::domain::directory::User;
use crate::domain::session::{Session, SessionKind};
use crate::secret::{SecretString, random_bytes};
use crate::store::{Connection, sessions, users};
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
        pass_expires_at: Option<time::OffsetDateTime>,
    ) -> Result<OpenedSession> {
        let id = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
        let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let session = Session::open(
            id.clone(),
            user.id,
            kind,
            &self.settings.timeouts,
            pass_expires_at,
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

    /// Redeems a pass (atomically, with lock-out counting) and opens a bootstrap session that
    /// ends when the pass expires or after the bootstrap window, whichever comes first.
    #[instrument(skip_all)]
    pub async fn sign_in_with_pass(
        &self,
        user_principal_name: &str,
        pass: &SecretString,
        correlation_id: Option<Uuid>,
    ) -> Result<OpenedSession> {
        let redeemed = self
            .platform
            .redeem_tap(user_principal_name, pass, correlation_id)
            .await?;
        let mut tx = self.platform.store.write().await?;
        let opened = self
            .open_session(
                &mut tx,
                &redeemed.user,
                SessionKind::Bootstrap,
                Some(redeemed.expires_at),
            )
            .await?;
        tx.commit().await?;
        Ok(opened)
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
