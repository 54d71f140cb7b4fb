use anyhow::Context;
use plugin::store::{Engine, Store, copy, migrate};

use crate::cli::DbCommand;
use crate::config::{self, Config};
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
        DbCommand::Copy {
            to,
            password_file,
            ca_file,
        } => {
            let source = Store::open(&runtime::database_settings(config)?)
                .await
                .with_context(|| format!("cannot open `{}`", runtime::database_name(config)))?;
            if source.engine() != Engine::Sqlite {
                anyhow::bail!("the configured database is not SQLite: nothing to copy from");
            }
            let mut target_config = Config {
                database: config::DatabaseConfig {
                    url: to.clone(),
                    password_file,
                    ca_file,
                    ..Default::default()
                },
                ..Config::default()
            };
            target_config.data_dir = config.data_dir.clone();
            let target = Store::open(&runtime::database_settings(&target_config)?)
                .await
                .with_context(|| format!("cannot open `{to}`"))?;
            let copied = copy::copy(&source, &target).await?;
            let total: u64 = copied.iter().map(|c| c.rows).sum();
            for c in &copied {
                println!("{:<28} {:>10}", c.table, c.rows);
            }
            println!(
                "copied {total} rows in {} tables into {to}; start the PostgreSQL nodes with the \
                 same server secret, or passes, tokens and sessions stop working",
                copied.len()
            );
            source.close().await;
            target.close().await;
            Ok(())
        }
    }
}
