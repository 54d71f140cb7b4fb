//! `POST /oauth2/token`, `POST /oauth2/revoke`, `POST /oauth2/introspect`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::{TokenError, no_store};
use super::form::OAuthForm;
use plugin::domain::oidc::{OAuthError, OAuthErrorCode};
use plugin::platform::Oidc;
use plugin::platform::oidc_client_auth::Client;

async fn client(oidc: &Oidc, form: &OAuthForm) -> Result<Client, TokenError> {
    let auth = form.client_auth()?;
    oidc.authenticate_client(auth)
        .await
        .map_err(|error| TokenError {
            error,
            basic: form.used_basic(),
        })
}

/// `POST /oauth2/token` — a client (secret, assertion, or a public client's id).
pub async fn token(State(oidc): State<Arc<Oidc>>, form: OAuthForm) -> Result<Response, TokenError> {
    let grant_type = form.require("grant_type")?;
    let client = client(&oidc, &form).await?;
    let issued = match grant_type {
        "authorization_code" => {
            oidc.exchange_code(
                &client,
                form.require("code")?,
                form.get("redirect_uri"),
                form.get("code_verifier"),
            )
            .await
        }
        "refresh_token" => {
            oidc.refresh(&client, form.require("refresh_token")?, form.get("scope"))
                .await
        }
        "client_credentials" => oidc.client_credentials(&client, form.get("scope")).await,
        other => Err(OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            format!("grant_type `{other}` is not supported"),
        )),
    }
    .map_err(|error| TokenError {
        error,
        basic: form.used_basic(),
    })?;
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    if let Some(r) = issued.refresh_token {
        body["refresh_token"] = json!(r);
    }
    if let Some(i) = issued.id_token {
        body["id_token"] = json!(i);
    }
    Ok(no_store(Json(body).into_response()))
}

/// `POST /oauth2/revoke` — a client, for its own tokens. 200 whatever the token was.
pub async fn revoke(
    State(oidc): State<Arc<Oidc>>,
    form: OAuthForm,
) -> Result<Response, TokenError> {
    let client = client(&oidc, &form).await?;
    let token = form.require("token")?;
    oidc.revoke(&client, token).await?;
    Ok(no_store(().into_response()))
}

/// `POST /oauth2/introspect` — an authenticated client, for its own tokens.
pub async fn introspect(
    State(oidc): State<Arc<Oidc>>,
    form: OAuthForm,
) -> Result<Response, TokenError> {
    let client = client(&oidc, &form).await?;
    let token = form.require("token")?;
    let answer = oidc.introspect(&client, token).await?;
    Ok(no_store(Json(answer).into_response()))
}
