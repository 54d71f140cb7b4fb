//! Logging. Logs go to standard error; standard output is kept for command results.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// `daemon` selects the configured level; one-shot commands log warnings only unless the
/// level is set explicitly, so their output stays readable.
pub fn init(config: &LogConfig, daemon: bool) {
    let level = if daemon || config.level != "info" {
        config.level.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if let Err(e) = result {
        eprintln!("tapbridge: logging not initialised: {e}");
    }
}
