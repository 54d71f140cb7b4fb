//! `/v1.0/applications`: Graph's `application` resource for OAuth clients, with `addPassword`
//! and `removePassword`. What Graph keeps elsewhere or not at all is an `@tapbridge`
//! annotation: `idTokenSigningAlgorithm@tapbridge` (`ES256`, `RS256`),
//! `skipConsent@tapbridge`, `appRoles@tapbridge` (administrative roles the application holds
//! for client credentials), `jwks@tapbridge` (public keys for `private_key_jwt`) and
//! `entraExternalAuthentication@tapbridge` (Microsoft Entra's external authentication method
//! client: `tenantIds`, `appId`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::odata::{Options, collection, split_page};
use crate::http::AppState;
use crate::http::error::ApiResult;
use crate::http::extract::{ApiCaller, GraphJson, GraphPath, ODataQuery};
use plugin::domain::oidc::client::{
    Application, ApplicationPatch, NewApplication, PasswordCredential,
};
use plugin::domain::oidc::eam::EamClient;
use plugin::domain::role::Roles;
use plugin::domain::timefmt::{parse_rfc3339, rfc3339};
use plugin::jose::{Alg, JwkSet};
use plugin::{Error, Result};

fn password_json(p: &PasswordCredential, secret_text: Option<&str>) -> Value {
    json!({
        "customKeyIdentifier": null,
        "displayName": p.display_name,
        "endDateTime": rfc3339(p.end),
        "hint": p.hint,
        "keyId": p.key_id,
        "secretText": secret_text,
        "startDateTime": rfc3339(p.start),
    })
}

fn eam_json(a: &Application) -> Value {
    match &a.eam {
        Some(e) => json!({ "tenantIds": e.tenant_ids, "appId": e.entra_app_id }),
        None => Value::Null,
    }
}

pub fn application_json(a: &Application) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.application",
        "id": a.id,
        "appId": a.app_id,
        "displayName": a.display_name,
        "createdDateTime": rfc3339(a.created_at),
        "signInAudience": "AzureADMyOrg",
        "web": {
            "redirectUris": a.web_redirect_uris,
            "implicitGrantSettings": {
                // An EAM client gets its ID token from the authorization endpoint.
                "enableIdTokenIssuance": a.eam.is_some(),
                "enableAccessTokenIssuance": false,
            },
        },
        "spa": { "redirectUris": a.spa_redirect_uris },
        "publicClient": { "redirectUris": a.public_client_redirect_uris },
        "passwordCredentials": a.passwords.iter().map(|p| password_json(p, None)).collect::<Vec<_>>(),
        "keyCredentials": [],
        "idTokenSigningAlgorithm@tapbridge": a.id_token_signing_alg.as_str(),
        "skipConsent@tapbridge": a.skip_consent,
        "appRoles@tapbridge": a.app_roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "jwks@tapbridge": a.jwks,
        "entraExternalAuthentication@tapbridge": eam_json(a),
    })
}

fn app_id(raw: &str) -> Result<Uuid> {
    Uuid::try_parse(raw.trim()).map_err(|_| Error::not_found(format!("application `{raw}`")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedirectSettings {
    redirect_uris: Option<Vec<String>>,
    /// Accepted and ignored: tapbridge issues no tokens from the authorization endpoint.
    #[serde(rename = "implicitGrantSettings")]
    _implicit_grant_settings: Option<Value>,
    #[serde(rename = "homePageUrl")]
    _home_page_url: Option<Value>,
    #[serde(rename = "logoutUrl")]
    _logout_url: Option<Value>,
}

/// The body of POST and PATCH. Unknown properties are refused, except a few Graph clients
/// send by habit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    #[serde(rename = "@odata.type")]
    _odata_type: Option<String>,
    #[serde(rename = "displayName")]
    display_name: Option<String>,
    #[serde(rename = "signInAudience")]
    sign_in_audience: Option<String>,
    web: Option<RedirectSettings>,
    spa: Option<RedirectSettings>,
    #[serde(rename = "publicClient")]
    public_client: Option<RedirectSettings>,
    #[serde(rename = "idTokenSigningAlgorithm@tapbridge")]
    id_token_signing_alg: Option<String>,
    #[serde(rename = "skipConsent@tapbridge")]
    skip_consent: Option<bool>,
    #[serde(rename = "appRoles@tapbridge")]
    app_roles: Option<Vec<String>>,
    /// `null` removes the keys.
    #[serde(rename = "jwks@tapbridge", default, deserialize_with = "present")]
    jwks: Option<Option<JwkSet>>,
    /// `null` removes the marking.
    #[serde(
        rename = "entraExternalAuthentication@tapbridge",
        default,
        deserialize_with = "present"
    )]
    eam: Option<Option<EamBody>>,
}

/// `entraExternalAuthentication@tapbridge`: the tenants whose users Entra may send, and the
/// Entra application (app registration) its hints are issued to.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EamBody {
    tenant_ids: Vec<String>,
    #[serde(default)]
    app_id: Option<String>,
}

impl EamBody {
    fn client(self) -> Result<EamClient> {
        let guid = |what: &str, s: &str| {
            Uuid::try_parse(s.trim()).map_err(|_| {
                Error::invalid(format!(
                    "entraExternalAuthentication@tapbridge.{what}: `{s}` is not a GUID"
                ))
            })
        };
        let mut tenant_ids = vec![];
        for t in &self.tenant_ids {
            let id = guid("tenantIds", t)?;
            if !tenant_ids.contains(&id) {
                tenant_ids.push(id);
            }
        }
        Ok(EamClient {
            tenant_ids,
            entra_app_id: self
                .app_id
                .as_deref()
                .map(|a| guid("appId", a))
                .transpose()?,
        })
    }
}

/// Tells a property that is `null` (`Some(None)`) from one that is absent (`None`).
fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl ApplicationBody {
    fn patch(self) -> Result<ApplicationPatch> {
        if let Some(aud) = &self.sign_in_audience
            && aud != "AzureADMyOrg"
        {
            return Err(Error::invalid(
                "signInAudience: tapbridge serves one organisation (AzureADMyOrg)",
            ));
        }
        let uris = |s: Option<RedirectSettings>| s.and_then(|s| s.redirect_uris);
        Ok(ApplicationPatch {
            display_name: self.display_name,
            web_redirect_uris: uris(self.web),
            spa_redirect_uris: uris(self.spa),
            public_client_redirect_uris: uris(self.public_client),
            id_token_signing_alg: self
                .id_token_signing_alg
                .map(|a| a.parse::<Alg>().map_err(Error::invalid))
                .transpose()?,
            skip_consent: self.skip_consent,
            app_roles: self
                .app_roles
                .map(|r| Roles::from_csv(&r.join(",")).map_err(Error::invalid))
                .transpose()?,
            jwks: self.jwks,
            eam: self
                .eam
                .map(|e| e.map(EamBody::client).transpose())
                .transpose()?,
        })
    }
}

/// `GET /v1.0/applications` — any administrative role. `$filter=appId eq '…'`, `$top`,
/// `$skiptoken`, `$select`.
pub async fn list_applications(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    ODataQuery(raw): ODataQuery,
) -> ApiResult<impl IntoResponse> {
    let options = Options::parse(&raw, &["$filter"])?;
    if let Some(filter) = options.get("$filter") {
        let wanted = filter
            .trim()
            .strip_prefix("appId eq '")
            .and_then(|r| r.strip_suffix('\''))
            .ok_or_else(|| Error::invalid("only `appId eq '<guid>'` can be filtered on"))?;
        let items = match Uuid::try_parse(wanted) {
            Ok(id) => match state.platform.application(&caller, id).await {
                Ok(app) if app.app_id == id => vec![application_json(&app)],
                Ok(_) | Err(Error::NotFound(_)) => vec![],
                Err(e) => return Err(e.into()),
            },
            Err(_) => vec![],
        };
        return Ok(collection(
            &state,
            "applications",
            "/v1.0/applications",
            &options,
            items,
            None,
        ));
    }
    let after = options
        .after
        .as_deref()
        .and_then(|a| a.split_once('\u{0}'))
        .map(|(n, i)| (n.to_owned(), i.to_owned()));
    let apps = state
        .platform
        .applications(&caller, after, options.top + 1)
        .await?;
    let (apps, more) = split_page(apps, options.top);
    let next = more
        .then(|| {
            apps.last()
                .map(|a| format!("{}\u{0}{}", a.display_name, a.id))
        })
        .flatten();
    let items = apps.iter().map(application_json).collect();
    Ok(collection(
        &state,
        "applications",
        "/v1.0/applications",
        &options,
        items,
        next,
    ))
}

/// `GET /v1.0/applications/{id | appId}` — any administrative role.
pub async fn get_application(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(id): GraphPath<String>,
) -> ApiResult<Json<Value>> {
    let app = state.platform.application(&caller, app_id(&id)?).await?;
    Ok(Json(application_json(&app)))
}

/// `POST /v1.0/applications` — Application Administrator (`appRoles@tapbridge`: Privileged
/// Authentication Administrator as well).
pub async fn create_application(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphJson(body): GraphJson<ApplicationBody>,
) -> ApiResult<impl IntoResponse> {
    let patch = body.patch()?;
    let new = NewApplication {
        display_name: patch
            .display_name
            .ok_or_else(|| Error::invalid("displayName is required"))?,
        web_redirect_uris: patch.web_redirect_uris.unwrap_or_default(),
        spa_redirect_uris: patch.spa_redirect_uris.unwrap_or_default(),
        public_client_redirect_uris: patch.public_client_redirect_uris.unwrap_or_default(),
        id_token_signing_alg: patch.id_token_signing_alg,
        skip_consent: patch.skip_consent.unwrap_or(false),
        app_roles: patch.app_roles.unwrap_or_default(),
        jwks: patch.jwks.flatten(),
        eam: patch.eam.flatten(),
    };
    let app = state.platform.create_application(&caller, new).await?;
    Ok((StatusCode::CREATED, Json(application_json(&app))))
}

/// `PATCH /v1.0/applications/{id | appId}` — Application Administrator (roles, and the keys
/// of an application holding roles: Privileged Authentication Administrator).
pub async fn update_application(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(id): GraphPath<String>,
    GraphJson(body): GraphJson<ApplicationBody>,
) -> ApiResult<StatusCode> {
    state
        .platform
        .update_application(&caller, app_id(&id)?, body.patch()?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1.0/applications/{id | appId}` — Application Administrator.
pub async fn delete_application(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(id): GraphPath<String>,
) -> ApiResult<StatusCode> {
    state
        .platform
        .delete_application(&caller, app_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddPasswordCredential {
    display_name: Option<String>,
    end_date_time: Option<String>,
    /// Graph ignores a client-chosen start; so does tapbridge.
    #[serde(rename = "startDateTime")]
    _start_date_time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddPassword {
    #[serde(default)]
    password_credential: AddPasswordCredential,
}

/// `POST /v1.0/applications/{id}/addPassword` — Application Administrator. The secret is in
/// this response only.
pub async fn add_password(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(id): GraphPath<String>,
    GraphJson(body): GraphJson<AddPassword>,
) -> ApiResult<Json<Value>> {
    let end = body
        .password_credential
        .end_date_time
        .as_deref()
        .map(|s| {
            parse_rfc3339(s)
                .ok_or_else(|| Error::invalid("endDateTime must be an RFC 3339 timestamp"))
        })
        .transpose()?;
    let (_, added) = state
        .platform
        .add_application_password(
            &caller,
            app_id(&id)?,
            body.password_credential.display_name,
            end,
        )
        .await?;
    let mut body = password_json(&added.credential, Some(added.secret_text.expose()));
    body["@odata.context"] = Value::from(format!(
        "{}/v1.0/$metadata#microsoft.graph.passwordCredential",
        state.settings.public_url
    ));
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemovePassword {
    key_id: String,
}

/// `POST /v1.0/applications/{id}/removePassword` — Application Administrator.
pub async fn remove_password(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    GraphPath(id): GraphPath<String>,
    GraphJson(body): GraphJson<RemovePassword>,
) -> ApiResult<StatusCode> {
    let key_id =
        Uuid::try_parse(body.key_id.trim()).map_err(|_| Error::invalid("keyId must be a GUID"))?;
    state
        .platform
        .remove_application_password(&caller, app_id(&id)?, key_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
