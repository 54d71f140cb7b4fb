use plugin::domain::directory::UserRef;
use plugin::domain::tap_policy::TapRequest;
use plugin::domain::timefmt::rfc3339;
use plugin::platform::Caller;
use serde_json::json;

use super::{output, parse_time};
use crate::cli::TapCommand;
use crate::config::Config;
use crate::runtime;

pub async fn run(command: TapCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let op = Caller::operator();
    match command {
        TapCommand::Create {
            user,
            lifetime,
            once,
            start,
            json,
        } => {
            let request = TapRequest {
                start_date_time: start
                    .as_deref()
                    .map(|s| parse_time("--start", s))
                    .transpose()?,
                lifetime_in_minutes: lifetime,
                is_usable_once: once.then_some(true),
            };
            let issued = platform
                .issue_tap(&op, &UserRef::parse(&user)?, request)
                .await?;
            let r = &issued.view.record;
            if json {
                output::json(&json!({
                    "id": r.id,
                    "userPrincipalName": issued.user.user_principal_name,
                    "temporaryAccessPass": issued.pass.expose(),
                    "startDateTime": rfc3339(r.valid_from()),
                    "expirationDateTime": rfc3339(r.expires_at()),
                    "lifetimeInMinutes": r.lifetime_in_minutes,
                    "isUsableOnce": r.is_usable_once,
                }));
            } else {
                println!(
                    "Temporary Access Pass for {}:\n",
                    issued.user.user_principal_name
                );
                println!("    {}\n", issued.pass.expose());
                println!(
                    "Valid from {} until {} ({} minutes), {}.",
                    rfc3339(r.valid_from()),
                    rfc3339(r.expires_at()),
                    r.lifetime_in_minutes,
                    if r.is_usable_once {
                        "one-time use"
                    } else {
                        "reusable until it expires"
                    }
                );
                println!("This is the only time the pass is shown.");
            }
        }
        TapCommand::List { limit, json } => {
            let items = platform.all_taps(&op, limit).await?;
            if json {
                let values: Vec<_> = items
                    .iter()
                    .map(|(upn, v)| {
                        json!({
                            "userPrincipalName": upn,
                            "id": v.record.id,
                            "createdDateTime": rfc3339(v.record.created_at),
                            "expirationDateTime": rfc3339(v.record.expires_at()),
                            "isUsableOnce": v.record.is_usable_once,
                            "isUsable": v.usability.is_usable(),
                            "methodUsabilityReason": v.usability.reason.as_str(),
                            "detail": v.usability.detail.map(|d| d.as_str()),
                        })
                    })
                    .collect();
                output::json(&json!(values));
            } else {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|(upn, v)| {
                        let state = match v.usability.detail {
                            Some(d) => format!("{} ({})", v.usability.reason.as_str(), d.as_str()),
                            None => v.usability.reason.as_str().to_owned(),
                        };
                        vec![
                            upn.clone(),
                            v.record.id.to_string(),
                            rfc3339(v.record.valid_from()),
                            rfc3339(v.record.expires_at()),
                            if v.record.is_usable_once {
                                "once".into()
                            } else {
                                "multi".into()
                            },
                            state,
                        ]
                    })
                    .collect();
                output::table(
                    &["USER", "ID", "VALID FROM", "EXPIRES", "USE", "STATE"],
                    &rows,
                );
            }
        }
        TapCommand::Delete { user } => {
            let record = platform
                .delete_tap(&op, &UserRef::parse(&user)?, None)
                .await?;
            println!("deleted pass {} of {user}", record.id);
        }
        TapCommand::Purge => {
            let n = platform.purge_expired_taps(&op).await?;
            println!("purged {n} expired pass(es)");
        }
    }
    platform.store().close().await;
    Ok(())
}
