//! `tapbridge app`: applications (OAuth clients) of the OpenID Connect provider.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use plugin::domain::oidc::client::{Application, NewApplication};
use plugin::domain::oidc::eam::{ENTRA_REDIRECT_URIS, EamClient};
use plugin::domain::timefmt::rfc3339;
use plugin::jose::{Alg, JwkSet};
use plugin::platform::Caller;
use serde_json::json;
use uuid::Uuid;

use super::{UsageError, output, parse_roles};
use crate::config::Config;
use crate::runtime;

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an application; prints its client id (and, with --secret, a secret once).
    Add(AppAdd),
    /// List applications.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add a secret to an application and print it once, or remove one (--remove KEY_ID).
    Secret {
        /// Application object id or client id.
        app: String,
        /// A name for the secret.
        #[arg(long)]
        name: Option<String>,
        /// Days until it expires (default 730).
        #[arg(long)]
        days: Option<u32>,
        /// Remove the secret with this key id instead.
        #[arg(long, value_name = "KEY_ID", conflicts_with_all = ["name", "days"])]
        remove: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete an application with its secrets and every token it holds.
    Remove {
        /// Application object id or client id.
        app: String,
    },
}

#[derive(Debug, Args)]
pub struct AppAdd {
    /// Display name, shown to users when they consent.
    pub name: String,
    /// A redirect URI of a server-side (confidential) web application (repeatable).
    #[arg(long = "web")]
    pub web: Vec<String>,
    /// A redirect URI of a single-page application (public client, PKCE) (repeatable).
    #[arg(long = "spa")]
    pub spa: Vec<String>,
    /// A redirect URI of a native or mobile application (public client, PKCE) (repeatable).
    #[arg(long = "public")]
    pub public: Vec<String>,
    /// ID-token signing algorithm: ES256 (default) or RS256.
    #[arg(long)]
    pub alg: Option<String>,
    /// Users are not asked to consent.
    #[arg(long)]
    pub skip_consent: bool,
    /// An administrative role the application holds itself for client credentials
    /// (repeatable), e.g. user-administrator.
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// A JWKS file with the application's public keys, for private_key_jwt.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// Make it Microsoft Entra's external authentication method client for this tenant id
    /// (repeatable). Its redirect URIs default to Entra's three endpoints; it signs RS256.
    #[arg(long = "entra-tenant", value_name = "TENANT_ID")]
    pub entra_tenants: Vec<String>,
    /// The Entra app registration's Application (client) ID, the audience of Entra's hints
    /// (default: this application's own client id).
    #[arg(long, value_name = "APP_ID", requires = "entra_tenants")]
    pub entra_app_id: Option<String>,
    /// Also add a secret and print it once.
    #[arg(long)]
    pub secret: bool,
    #[arg(long)]
    pub json: bool,
}

fn app_ref(raw: &str) -> Result<Uuid, UsageError> {
    Uuid::try_parse(raw.trim())
        .map_err(|_| UsageError(format!("`{raw}` is not an application id or client id")))
}

fn summary(app: &Application) -> serde_json::Value {
    json!({
        "id": app.id,
        "appId": app.app_id,
        "displayName": app.display_name,
        "web": app.web_redirect_uris,
        "spa": app.spa_redirect_uris,
        "publicClient": app.public_client_redirect_uris,
        "idTokenSigningAlgorithm": app.id_token_signing_alg.as_str(),
        "skipConsent": app.skip_consent,
        "appRoles": app.app_roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "entraExternalAuthentication": app.eam.as_ref().map(|e| json!({
            "tenantIds": e.tenant_ids, "appId": e.entra_app_id,
        })),
        "secrets": app.passwords.iter().map(|p| json!({
            "keyId": p.key_id, "displayName": p.display_name, "hint": p.hint,
            "endDateTime": rfc3339(p.end),
        })).collect::<Vec<_>>(),
    })
}

pub async fn run(command: AppCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let op = Caller::operator();
    match command {
        AppCommand::Add(add) => {
            let jwks = match &add.jwks {
                None => None,
                Some(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        UsageError(format!("--jwks: cannot read `{}`: {e}", path.display()))
                    })?;
                    Some(serde_json::from_str::<JwkSet>(&text).map_err(|e| {
                        UsageError(format!("--jwks: `{}` is not a JWKS: {e}", path.display()))
                    })?)
                }
            };
            let guid = |flag: &str, s: &str| {
                Uuid::try_parse(s.trim())
                    .map_err(|_| UsageError(format!("{flag}: `{s}` is not a GUID")))
            };
            let eam = if add.entra_tenants.is_empty() {
                None
            } else {
                Some(EamClient {
                    tenant_ids: add
                        .entra_tenants
                        .iter()
                        .map(|t| guid("--entra-tenant", t))
                        .collect::<Result<_, _>>()?,
                    entra_app_id: add
                        .entra_app_id
                        .as_deref()
                        .map(|a| guid("--entra-app-id", a))
                        .transpose()?,
                })
            };
            let web = if eam.is_some() && add.web.is_empty() {
                ENTRA_REDIRECT_URIS
                    .iter()
                    .map(|u| (*u).to_owned())
                    .collect()
            } else {
                add.web
            };
            let new = NewApplication {
                display_name: add.name,
                web_redirect_uris: web,
                spa_redirect_uris: add.spa,
                public_client_redirect_uris: add.public,
                id_token_signing_alg: add
                    .alg
                    .map(|a| a.parse::<Alg>().map_err(UsageError))
                    .transpose()?,
                skip_consent: add.skip_consent,
                app_roles: parse_roles(&add.roles)?,
                jwks,
                eam,
            };
            let app = platform.create_application(&op, new).await?;
            let secret = if add.secret {
                let (_, added) = platform
                    .add_application_password(
                        &op,
                        app.id,
                        Some("created with the app".into()),
                        None,
                    )
                    .await?;
                Some(added)
            } else {
                None
            };
            if add.json {
                let mut v = summary(&app);
                if let Some(s) = &secret {
                    v["secret"] = json!({
                        "keyId": s.credential.key_id,
                        "secretText": s.secret_text.expose(),
                        "endDateTime": rfc3339(s.credential.end),
                    });
                }
                output::json(&v);
            } else {
                println!("application `{}`", app.display_name);
                println!("    client id: {}", app.app_id);
                println!("    object id: {}", app.id);
                if let Some(s) = &secret {
                    println!("    secret:    {}", s.secret_text.expose());
                    println!("\nThe secret is shown only this once.");
                }
            }
        }
        AppCommand::List { json } => {
            let apps = platform.applications(&op, None, 10_000).await?;
            if json {
                output::json(&json!(apps.iter().map(summary).collect::<Vec<_>>()));
            } else {
                let rows: Vec<Vec<String>> = apps
                    .iter()
                    .map(|a| {
                        vec![
                            a.display_name.clone(),
                            a.app_id.to_string(),
                            a.all_redirect_uris().cloned().collect::<Vec<_>>().join(" "),
                            a.passwords.len().to_string(),
                            a.app_roles.to_csv(),
                        ]
                    })
                    .collect();
                output::table(
                    &["NAME", "CLIENT ID", "REDIRECT URIS", "SECRETS", "ROLES"],
                    &rows,
                );
            }
        }
        AppCommand::Secret {
            app,
            name,
            days,
            remove,
            json,
        } => {
            let id = app_ref(&app)?;
            if let Some(key) = remove {
                let key = Uuid::try_parse(key.trim())
                    .map_err(|_| UsageError(format!("`{key}` is not a key id")))?;
                platform.remove_application_password(&op, id, key).await?;
                println!("removed secret {key}");
            } else {
                let end = days.map(|d| platform.now() + time::Duration::days(i64::from(d)));
                let (app, added) = platform
                    .add_application_password(&op, id, name, end)
                    .await?;
                if json {
                    output::json(&json!({
                        "appId": app.app_id,
                        "keyId": added.credential.key_id,
                        "secretText": added.secret_text.expose(),
                        "endDateTime": rfc3339(added.credential.end),
                    }));
                } else {
                    println!(
                        "secret for `{}` (key id {}):\n",
                        app.display_name, added.credential.key_id
                    );
                    println!("    {}\n", added.secret_text.expose());
                    println!(
                        "It expires {} and is shown only this once.",
                        rfc3339(added.credential.end)
                    );
                }
            }
        }
        AppCommand::Remove { app } => {
            let removed = platform.delete_application(&op, app_ref(&app)?).await?;
            println!(
                "removed application `{}` ({})",
                removed.display_name, removed.app_id
            );
        }
    }
    platform.store().close().await;
    Ok(())
}
