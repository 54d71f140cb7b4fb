//! One file per command group. Each command builds the platform, acts as the operator, and
//! prints a result on standard output.

pub mod app;
mod db;
mod entra;
mod group;
pub mod keys;
mod mail;
mod output;
mod policy;
mod serve;
mod sync;
mod tap;
mod token;
mod user;

use std::process::ExitCode;

use plugin::Error;

use crate::cli::Command;
use crate::config::Config;

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve::run(config).await,
        Command::Db(c) => db::run(c, &config).await,
        Command::Token(c) => token::run(c, &config).await,
        Command::User(c) => user::run(c, &config).await,
        Command::Group(c) => group::run(c, &config).await,
        Command::Tap(c) => tap::run(c, &config).await,
        Command::Policy(c) => policy::run(c, &config).await,
        Command::Sync(c) => sync::run(c, &config).await,
        Command::SendTestEmail { address } => mail::send_test(&address, &config).await,
        Command::Mail(c) => mail::run(c, &config).await,
        Command::Onboarding(c) => mail::onboarding(c, &config).await,
        Command::Entra(c) => entra::run(c, &config).await,
        Command::Keys(c) => keys::run(c, &config).await,
        Command::App(c) => app::run(c, &config).await,
    }
}

/// A bad argument: the same exit code as a usage error from the parser.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// 2 for what the operator typed wrong (as clap does for usage errors), 1 for everything else.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    let usage = e.downcast_ref::<UsageError>().is_some()
        || matches!(
            e.downcast_ref::<Error>(),
            Some(Error::InvalidInput(_) | Error::PolicyViolation(_))
        );
    ExitCode::from(if usage { 2 } else { 1 })
}

fn parse_roles(values: &[String]) -> Result<plugin::domain::role::Roles, UsageError> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.parse().map_err(UsageError))
        .collect::<Result<Vec<_>, _>>()
        .map(plugin::domain::role::Roles::new)
}

fn parse_time(flag: &str, value: &str) -> Result<time::OffsetDateTime, UsageError> {
    plugin::domain::timefmt::parse_rfc3339(value).ok_or_else(|| {
        UsageError(format!(
            "{flag}: `{value}` is not an RFC 3339 timestamp (e.g. 2026-12-01T09:00:00Z)"
        ))
    })
}
