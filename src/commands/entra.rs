//! `tapbridge entra check`: can tapbridge mint passes in the configured Entra tenant?

use std::sync::Arc;

use bridge::entra::Entra;
use plugin::clock::SystemClock;

use super::{UsageError, output};
use crate::cli::EntraCommand;
use crate::config::Config;

pub async fn run(command: EntraCommand, config: &Config) -> anyhow::Result<()> {
    let EntraCommand::Check { json } = command;
    let entra = Entra::from_config(&config.entra, Arc::new(SystemClock))
        .map_err(anyhow::Error::msg)?
        .ok_or_else(|| {
            UsageError(
                "the Entra connector is not configured: set [entra] tenant_id, client_id and a credential"
                    .into(),
            )
        })?;
    let report = entra.check(&config.onboarding.entra_rule_terms()).await;
    if json {
        output::json(&serde_json::to_value(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    anyhow::ensure!(report.ok, "the Entra connector is not ready (see above)");
    Ok(())
}
