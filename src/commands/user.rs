use plugin::domain::directory::{NewUser, User, UserCondition, UserField, UserQuery};
use plugin::domain::timefmt::rfc3339;
use plugin::platform::Caller;
use serde_json::json;

use super::{output, parse_roles, parse_time};
use crate::cli::UserCommand;
use crate::config::Config;
use crate::runtime;

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id,
        "userPrincipalName": u.user_principal_name,
        "displayName": u.display_name,
        "mail": u.mail,
        "otherMails": u.other_mails,
        "accountEnabled": u.account_enabled,
        "source": u.source,
        "roles": u.roles.to_csv(),
        "createdDateTime": rfc3339(u.created_at),
    })
}

pub async fn run(command: UserCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let op = Caller::operator();
    match command {
        UserCommand::Add(a) => {
            let employee_hire_date = a
                .hire_date
                .as_deref()
                .map(|d| parse_time("--hire-date", d))
                .transpose()?;
            let new = NewUser {
                user_principal_name: a.upn,
                display_name: a.display_name,
                given_name: a.given_name,
                surname: a.surname,
                mail: a.mail,
                other_mails: a.other_mails,
                personal_email: a.personal_email,
                preferred_language: a.language,
                account_enabled: !a.disabled,
                employee_hire_date,
                roles: parse_roles(&a.roles)?,
                ..Default::default()
            };
            let user = platform.create_user(&op, new).await?;
            if a.json {
                output::json(&user_json(&user));
            } else {
                println!("added user {} ({})", user.user_principal_name, user.id);
            }
        }
        UserCommand::SetRoles { user, roles } => {
            let roles = parse_roles(&roles)?;
            let user = platform
                .set_user_roles(
                    &op,
                    &plugin::domain::directory::UserRef::parse(&user)?,
                    roles,
                )
                .await?;
            let shown = if user.roles.is_empty() {
                "no roles".to_owned()
            } else {
                user.roles.to_csv()
            };
            println!("{} now has {shown}", user.user_principal_name);
        }
        UserCommand::List {
            prefix,
            limit,
            json,
        } => {
            let conditions = prefix
                .map(|p| vec![UserCondition::StartsWith(UserField::UserPrincipalName, p)])
                .unwrap_or_default();
            let users = platform
                .users(
                    &op,
                    &UserQuery {
                        conditions,
                        after: None,
                        limit,
                    },
                )
                .await?;
            if json {
                output::json(&json!(users.iter().map(user_json).collect::<Vec<_>>()));
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.user_principal_name.clone(),
                            u.id.to_string(),
                            output::opt(&u.display_name),
                            if u.account_enabled {
                                "enabled".into()
                            } else {
                                "disabled".into()
                            },
                            u.source.clone(),
                            if u.roles.is_empty() {
                                "-".into()
                            } else {
                                u.roles.to_csv()
                            },
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "USER PRINCIPAL NAME",
                        "ID",
                        "DISPLAY NAME",
                        "ACCOUNT",
                        "SOURCE",
                        "ROLES",
                    ],
                    &rows,
                );
            }
        }
    }
    platform.store().close().await;
    Ok(())
}
