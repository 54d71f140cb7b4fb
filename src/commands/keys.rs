//! `tapbridge keys`: the OpenID Connect provider's signing keys.

use clap::Subcommand;
use plugin::domain::oidc::keys::{KeyAction, Trigger};
use plugin::domain::timefmt::rfc3339;
use plugin::jose::Alg;
use plugin::platform::Caller;
use serde_json::json;

use super::{UsageError, output};
use crate::config::Config;
use crate::runtime;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: next (published, not yet signing), current, retired.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Rotate now: each algorithm's next key starts signing, the current one retires (and
    /// stays published for the longest token lifetime plus the margin), a new next key is
    /// made. Without keys yet, makes them.
    Rotate {
        /// Only this algorithm (ES256 or RS256). RS256 keys are made only when named here or
        /// when an application asks for RS256.
        #[arg(long)]
        alg: Option<String>,
    },
}

pub async fn run(command: KeysCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let oidc = runtime::oidc(config, &platform, &config.server.public_url)?;
    let op = Caller::operator();
    match command {
        KeysCommand::List { json } => {
            let keys = oidc.keys(&op).await?;
            if json {
                let items: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(),
                            "createdDateTime": rfc3339(k.created_at),
                            "activatedDateTime": k.activated_at.map(rfc3339),
                            "retiredDateTime": k.retired_at.map(rfc3339),
                            "publishedUntil": k.publish_until.map(rfc3339),
                        })
                    })
                    .collect();
                output::json(&json!(items));
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.kid.clone(),
                            k.alg.to_string(),
                            k.state.as_str().into(),
                            rfc3339(k.created_at),
                            output::opt(&k.activated_at.map(rfc3339)),
                            output::opt(&k.publish_until.map(rfc3339)),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "KID",
                        "ALG",
                        "STATE",
                        "CREATED",
                        "ACTIVATED",
                        "PUBLISHED UNTIL",
                    ],
                    &rows,
                );
            }
        }
        KeysCommand::Rotate { alg } => {
            let only = alg
                .map(|a| a.parse::<Alg>().map_err(UsageError))
                .transpose()?;
            let done = oidc.rotate_keys(&op, Trigger::Now, only).await?;
            for action in &done {
                match action {
                    KeyAction::Create { alg, state } => {
                        println!("created a {alg} key ({})", state.as_str())
                    }
                    KeyAction::Activate { kid } => println!("{kid} now signs"),
                    KeyAction::Retire { kid, publish_until } => {
                        println!("{kid} retired, published until {}", rfc3339(*publish_until))
                    }
                    KeyAction::Delete { kid } => println!("{kid} deleted"),
                }
            }
            if done.is_empty() {
                println!("nothing to rotate");
            }
        }
    }
    platform.store().close().await;
    Ok(())
}
