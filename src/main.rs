//! The `tapbridge` binary: parses the command line and configuration, sets up logging, and
//! hands over to a command.

mod cli;
mod commands;
mod config;
mod memory;
mod runtime;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    memory::limit_arenas();
    let cli = cli::Cli::parse();
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(errors) => {
            for e in errors {
                eprintln!("tapbridge: {e}");
            }
            return ExitCode::from(2);
        }
    };
    // Kept to the end: dropping it writes the log lines still queued.
    let _logs = telemetry::init(&config.log, matches!(cli.command, cli::Command::Serve));
    // ldap3 and lettre both link rustls; with the process-wide provider chosen up front,
    // neither has to guess (ldap3 panics at connect when it cannot).
    bridge::ldap::tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tapbridge: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapbridge: {e:#}");
            commands::exit_code(&e)
        }
    }
}
