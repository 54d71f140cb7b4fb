//! `send-test-email`, `mail list|retry|cancel`, `onboarding resend`.

use std::sync::Arc;

use anyhow::Context;
use bridge::mail::Mailer;
use bridge::mail::outbox::State;
use plugin::domain::directory::UserRef;
use plugin::domain::timefmt::rfc3339;
use plugin::platform::Caller;
use serde_json::json;
use uuid::Uuid;

use super::{UsageError, output};
use crate::cli::{MailCommand, OnboardingCommand};
use crate::config::Config;
use crate::runtime;

fn public_url(config: &Config) -> String {
    if config.server.public_url.is_empty() {
        format!("http://localhost:{}", config.server.listen.port())
    } else {
        config.server.public_url.clone()
    }
}

pub async fn send_test(address: &str, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let settings = config.mail.settings(&config.data_dir, &public_url(config));
    let mailer = Mailer::new(platform.clone(), settings).map_err(anyhow::Error::msg)?;
    let result = mailer.send_test(address).await;
    platform.store().close().await;
    match result {
        Ok(accepted) => {
            println!(
                "sent through {}: {}",
                mailer.transport().describe(),
                accepted.reply
            );
            Ok(())
        }
        Err(refused) => {
            let kind = if refused.permanent {
                "refused"
            } else {
                "failed (temporary)"
            };
            anyhow::bail!("test message {kind}: {}", refused.reason)
        }
    }
}

fn parse_id(id: &str) -> Result<Uuid, UsageError> {
    Uuid::try_parse(id.trim()).map_err(|_| UsageError(format!("`{id}` is not a message id")))
}

pub async fn run(command: MailCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    match command {
        MailCommand::List { state, limit, json } => {
            let state = match state.as_deref() {
                None => None,
                Some(s) => Some(
                    State::ALL
                        .into_iter()
                        .find(|st| st.as_str() == s)
                        .ok_or_else(|| {
                            UsageError(format!(
                                "--state: `{s}` is not pending, sending, sent, failed or cancelled"
                            ))
                        })?,
                ),
            };
            let plugin::platform::OutboxListing {
                messages, entra, ..
            } = platform
                .mail_outbox(&plugin::platform::Caller::operator(), state, limit)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                let items: Vec<_> = messages
                    .iter()
                    .map(|m| {
                        let mut v = json!({
                            "id": m.id, "kind": m.kind, "userId": m.user_id, "recipients": m.recipients,
                            "state": m.state.as_str(), "attempts": m.attempts,
                            "unconfirmedAttempts": m.unconfirmed_attempts, "notBefore": rfc3339(m.not_before),
                            "lastError": m.last_error, "serverReply": m.server_reply,
                            "sentDateTime": m.sent_at.map(rfc3339),
                        });
                        if let Some(e) = entra.get(&m.id) {
                            v["entra"] = bridge::mail::entra::listing(e);
                        }
                        v
                    })
                    .collect();
                output::json(&json!(items));
            } else {
                let rows: Vec<Vec<String>> = messages
                    .iter()
                    .map(|m| {
                        vec![
                            m.id.to_string(),
                            m.state.as_str().to_owned(),
                            m.recipients.join(", "),
                            m.attempts.to_string(),
                            rfc3339(m.not_before),
                            m.last_error
                                .clone()
                                .or_else(|| m.server_reply.clone())
                                .unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                output::table(
                    &["ID", "STATE", "TO", "ATTEMPTS", "NOT BEFORE", "LAST REPLY"],
                    &rows,
                );
            }
        }
        MailCommand::Retry { id } => {
            let id = parse_id(&id)?;
            let done = platform
                .retry_mail(&plugin::platform::Caller::operator(), id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(done, "message {id} is not waiting or failed");
            println!("message {id} will be sent again now");
        }
        MailCommand::Cancel { id } => {
            let id = parse_id(&id)?;
            let done = platform
                .cancel_mail(&plugin::platform::Caller::operator(), id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            anyhow::ensure!(done, "message {id} has been sent or cancelled already");
            println!("message {id} cancelled");
        }
    }
    platform.store().close().await;
    Ok(())
}

pub async fn onboarding(command: OnboardingCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    match command {
        OnboardingCommand::Resend { user } => {
            let user = UserRef::parse(&user)?;
            let rules = Arc::new(config.onboarding.rules());
            let id = bridge::onboarding::resend(
                &platform,
                &Caller::operator(),
                &user,
                &rules,
                &config.mail.default_language,
            )
            .await
            .map_err(|e| match e {
                bridge::error::Error::Platform(p) => anyhow::Error::new(p),
                other => anyhow::anyhow!("{other}"),
            })
            .context("cannot resend onboarding")?;
            println!("queued onboarding message {id} for {user}; `serve` delivers it");
        }
    }
    platform.store().close().await;
    Ok(())
}
