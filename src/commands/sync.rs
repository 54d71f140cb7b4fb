//! `tapbridge sync ldap`: one run of each (or one) LDAP source, with a progress line on a
//! terminal and a summary at the end. Exit code 1 if any source failed or was stopped by the
//! deprovisioning guard.

use std::io::{IsTerminal, Write};

use anyhow::bail;
use bridge::ldap::report::{Counts, Status};
use bridge::ldap::{RunOptions, run as run_source};

use super::UsageError;
use crate::cli::SyncCommand;
use crate::config::Config;
use crate::runtime;

pub async fn run(command: SyncCommand, config: &Config) -> anyhow::Result<()> {
    let SyncCommand::Ldap {
        source,
        full,
        dry_run,
        force,
        json,
    } = command;
    let sources: Vec<_> = match &source {
        Some(name) => match config.ldap.source(name) {
            Some(s) => vec![s.clone()],
            None => {
                return Err(UsageError(format!(
                    "no LDAP source named `{name}` in the configuration"
                ))
                .into());
            }
        },
        None => config.ldap.sources.clone(),
    };
    if sources.is_empty() {
        return Err(UsageError("no LDAP sources are configured ([[ldap.sources]])".into()).into());
    }
    let platform = runtime::open_platform(config).await?;
    let opts = RunOptions {
        full,
        dry_run,
        force,
        lock: config.ldap.lock_settings(),
    };
    // Ctrl-C or SIGTERM stops the run cleanly: the batch in flight rolls back and the
    // source's lock is released at once instead of lapsing after its grace.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        super::serve::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let terminal = std::io::stderr().is_terminal() && !json;
    let mut failed = Vec::new();
    let mut reports = Vec::new();
    for src in &sources {
        let name = src.name.clone();
        let progress = move |c: &Counts| {
            if terminal {
                let mut err = std::io::stderr();
                let _ = write!(
                    err,
                    "\r{name}: {} entries read, {} added, {} updated, {} quarantined ",
                    c.read, c.added, c.updated, c.quarantined
                );
                let _ = err.flush();
            }
        };
        if *stop.borrow() {
            failed.push(format!("{} (not started: stopped)", src.name));
            continue;
        }
        let report = run_source(&platform, src, opts, &stop, &progress).await;
        if terminal {
            eprintln!();
        }
        if !matches!(report.status, Status::Ok | Status::DryRun) {
            failed.push(src.name.clone());
        }
        if !json {
            for line in &report.plan {
                println!("  {line}");
            }
            println!("{}", report.summary());
        }
        reports.push(report);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    platform.store().close().await;
    if !failed.is_empty() {
        bail!("sync did not complete for: {}", failed.join(", "));
    }
    Ok(())
}
