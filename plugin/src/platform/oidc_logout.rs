//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): which application asks,
//! where the user may be sent afterwards (a registered redirect URI, matched exactly), and
//! whether the request is trustworthy enough to end the session without asking.

use uuid::Uuid;

use super::oidc::Oidc;
use super::oidc_authorize::AuthorizeError;
use super::sessions::SignedIn;
use crate::domain::oidc::client::Application;
use crate::domain::oidc::problem::Problem;
use crate::jose::Alg;
use crate::store::{oidc_clients, oidc_grants};

/// An RP-initiated logout. Its `Debug` leaves the ID token out.
#[derive(Default, Clone)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

impl std::fmt::Debug for LogoutRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutRequest")
            .field(
                "id_token_hint",
                &self.id_token_hint.as_ref().map(|_| "<redacted>"),
            )
            .field("client_id", &self.client_id)
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field("state", &self.state)
            .finish()
    }
}

#[derive(Debug)]
pub struct LogoutCheck {
    pub app: Option<Application>,
    /// Where to send the user afterwards, with `state`.
    pub redirect: Option<String>,
    /// An ID token we issued for this browser's session came with the request: sign out
    /// without asking. Otherwise the user confirms (a link alone must not sign anyone out).
    pub hinted: bool,
}

fn page(p: Problem) -> AuthorizeError {
    AuthorizeError::Page(p)
}

impl Oidc {
    pub async fn check_logout(
        &self,
        req: &LogoutRequest,
        session: Option<&SignedIn>,
    ) -> Result<LogoutCheck, AuthorizeError> {
        let mut client: Option<String> = req.client_id.clone();
        let mut hinted = false;
        if let Some(hint) = &req.id_token_hint {
            // Expired hints are normal here (an ID token lives minutes, a session hours):
            // the signature and the issuer are what count.
            let v = self
                .verify_own(hint, &[Alg::Es256, Alg::Rs256])
                .await
                .map_err(|_| page(Problem::LogoutForeignToken))?;
            let c = &v.claims;
            if c.get("iss").and_then(|x| x.as_str()) != Some(self.settings.issuer.as_str()) {
                return Err(page(Problem::LogoutOtherIssuer));
            }
            let aud = c.get("aud").and_then(|x| x.as_str()).map(str::to_owned);
            if client.is_some() && aud.is_some() && client != aud {
                return Err(page(Problem::LogoutTwoApplications));
            }
            client = client.or(aud);
            if let Some(s) = session {
                let sid = c.get("sid").and_then(|x| x.as_str());
                let sub = c.get("sub").and_then(|x| x.as_str());
                hinted = sid == Some(self.sid(&s.session.id).as_str())
                    || sub == Some(s.user.id.to_string().as_str());
            }
        }
        let app = match client {
            None => None,
            Some(id) => {
                let id = Uuid::try_parse(id.trim())
                    .map_err(|_| page(Problem::LogoutUnknownApplication))?;
                let mut conn = self.platform.store.read().await?;
                Some(
                    oidc_clients::by_client_id(&mut conn, id)
                        .await?
                        .ok_or_else(|| page(Problem::LogoutUnknownApplication))?,
                )
            }
        };
        let redirect = match (&req.post_logout_redirect_uri, &app) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(page(Problem::LogoutReturnWithoutApplication));
            }
            (Some(uri), Some(app)) if app.allows_post_logout_redirect(uri) => {
                Some(match &req.state {
                    Some(state) => {
                        let mut q = form_urlencoded::Serializer::new(String::new());
                        q.append_pair("state", state);
                        let sep = if uri.contains('?') { '&' } else { '?' };
                        format!("{uri}{sep}{}", q.finish())
                    }
                    None => uri.clone(),
                })
            }
            (Some(_), Some(_)) => {
                return Err(page(Problem::LogoutReturnUnregistered));
            }
        };
        Ok(LogoutCheck {
            app,
            redirect,
            hinted,
        })
    }

    /// Revokes what `app` got through the session being ended. The session itself is ended by
    /// the caller (it owns sessions).
    pub async fn logout_grants(&self, session: &SignedIn, app: &Application) -> crate::Result<u64> {
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let n = oidc_grants::revoke_for_session(
            &mut tx,
            session.user.id,
            &session.session.id,
            app.app_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}
