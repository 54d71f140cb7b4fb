//! `tapbridge serve`: the HTTP server and the background jobs, until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bridge::provisioning::{Scim, ScimSettings};
use plugin::http::{AppState, HttpSettings, app_with};
use plugin::platform::{Caller, Platform};
use plugin::store::tokens;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::runtime;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(&config).await?;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let addr = listener.local_addr()?;
    let public_url = if config.server.public_url.is_empty() {
        // Browsers treat http://localhost as a secure context; 127.0.0.1 is not a valid
        // WebAuthn relying-party id. Prefer the name for loopback.
        if addr.ip().is_loopback() {
            format!("http://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        }
    } else {
        config.server.public_url.clone()
    };
    first_start_hint(&platform).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let purge = tokio::spawn(purge_loop(
        platform.clone(),
        Duration::from_secs(config.tap.purge_interval_minutes * 60),
        stop_rx.clone(),
    ));

    let state = AppState {
        platform: platform.clone(),
        settings: Arc::new(HttpSettings {
            body_limit: config.server.body_limit_bytes,
            public_url: public_url.clone(),
        }),
    };
    let mut extra = axum::Router::new();
    if config.scim.enabled {
        let settings = ScimSettings {
            public_url: public_url.clone(),
            max_results: config.scim.max_results,
            mapping: config.scim.mapping().map_err(anyhow::Error::msg)?,
        };
        let scim = Arc::new(Scim::new(platform.clone(), settings));
        extra = extra.nest(
            "/scim/v2",
            bridge::provisioning::routes(scim, platform.clone()),
        );
    }
    tracing::info!(%addr, %public_url, database = %config.database.path.display(), "tapbridge listening");
    // A machine-readable line for supervisors and tests that start the daemon on port 0.
    println!("tapbridge listening on http://{addr}");

    let grace = Duration::from_secs(config.server.shutdown_timeout_seconds);
    let mut stopping = stop_rx.clone();
    let server = axum::serve(listener, app_with(state, extra)).with_graceful_shutdown(async move {
        let _ = stopping.wait_for(|s| *s).await;
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result.context("HTTP server failed")?,
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stop_tx.send(true);
            if tokio::time::timeout(grace, &mut server).await.is_err() {
                tracing::warn!(seconds = grace.as_secs(), "requests still running after the grace period; closing");
            }
        }
    }
    let _ = stop_tx.send(true);
    let _ = purge.await;
    platform.store().close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn first_start_hint(platform: &Platform) -> anyhow::Result<()> {
    let mut conn = platform.store().read().await?;
    if tokens::count_live(&mut conn).await? == 0 {
        tracing::warn!(
            "no API token exists yet. Create the first administrator token with:\n\n    \
             tapbridge token create --name admin --role privileged-authentication-administrator \
             --role authentication-policy-administrator --role user-administrator\n\n\
             (run it with the same configuration; the token is printed once)"
        );
    }
    Ok(())
}

async fn purge_loop(platform: Arc<Platform>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match platform.purge_expired_taps(&Caller::operator()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(count = n, "purged expired passes"),
                    Err(e) => tracing::warn!(error = %e, "purging expired passes failed"),
                }
            }
            () = async { let _ = stop.wait_for(|s| *s).await; } => return,
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
