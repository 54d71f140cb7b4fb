use anyhow::Context;
use plugin::store::{Store, migrate};

use crate::cli::DbCommand;
use crate::config::Config;
use crate::runtime;

pub async fn run(command: DbCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        DbCommand::Migrate => {
            runtime::ensure_data_dir(&config.data_dir)?;
            let store = Store::open_without_migrating(&runtime::database_settings(config)?)
                .await
                .with_context(|| format!("cannot open `{}`", runtime::database_name(config)))?;
            let report = migrate::run(&store).await?;
            if report.applied.is_empty() {
                println!(
                    "database is up to date (schema version {})",
                    report.current_version
                );
            } else {
                for m in &report.applied {
                    println!("applied {m}");
                }
                println!("schema version {}", report.current_version);
            }
            store.close().await;
            Ok(())
        }
    }
}
