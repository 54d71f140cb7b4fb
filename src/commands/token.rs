use plugin::domain::timefmt::rfc3339;
use plugin::platform::{Caller, TokenGrant};
use serde_json::json;

use super::{output, parse_roles};
use crate::cli::TokenCommand;
use crate::config::Config;
use crate::runtime;

pub async fn run(command: TokenCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let op = Caller::operator();
    match command {
        TokenCommand::Create {
            name,
            roles,
            scim_source,
            json,
        } => {
            let grant = match scim_source {
                Some(source) => TokenGrant::Provisioning(source),
                None => TokenGrant::Roles(parse_roles(&roles)?),
            };
            let created = platform.create_token(&op, &name, grant).await?;
            let roles: Vec<_> = created.info.roles.iter().map(|r| r.as_str()).collect();
            if json {
                output::json(&json!({
                    "id": created.info.id,
                    "name": created.info.name,
                    "roles": roles,
                    "provisioningSource": created.info.provisioning_source,
                    "token": created.token.expose(),
                }));
            } else {
                println!(
                    "API token `{}` ({}):\n",
                    created.info.name,
                    roles.join(", ")
                );
                println!("    {}\n", created.token.expose());
                println!("Send it as `Authorization: Bearer <token>`. It is shown only this once.");
            }
        }
        TokenCommand::List { json } => {
            let tokens = platform.tokens(&op).await?;
            if json {
                let items: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({
                            "id": t.id, "name": t.name, "roles": t.roles.to_csv(),
                            "provisioningSource": t.provisioning_source,
                            "createdDateTime": rfc3339(t.created_at),
                            "lastUsedDateTime": t.last_used_at.map(rfc3339),
                            "revokedDateTime": t.revoked_at.map(rfc3339),
                        })
                    })
                    .collect();
                output::json(&json!(items));
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            t.id.to_string(),
                            t.provisioning_source
                                .clone()
                                .unwrap_or_else(|| t.roles.to_csv()),
                            rfc3339(t.created_at),
                            output::opt(&t.last_used_at.map(rfc3339)),
                            if t.revoked_at.is_some() {
                                "revoked".into()
                            } else {
                                "active".into()
                            },
                        ]
                    })
                    .collect();
                output::table(
                    &["NAME", "ID", "ROLES", "CREATED", "LAST USED", "STATE"],
                    &rows,
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let info = platform.revoke_token(&op, &token).await?;
            println!("revoked token `{}` ({})", info.name, info.id);
        }
    }
    platform.store().close().await;
    Ok(())
}
