//! `tapbridge serve`: the HTTP server and the background jobs, until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bridge::provisioning::{Scim, ScimSettings};
use plugin::clock::SystemClock;
use plugin::platform::{Caller, Platform};
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
    platform.set_leadership(platform.store().leadership(
        Duration::from_secs(config.database.leader_interval_seconds),
        stop_rx.clone(),
    ));
    let mut purges = vec![
        tokio::spawn(on_the_leader(
            platform.clone(),
            Duration::from_secs(config.tap.purge_interval_minutes * 60),
            stop_rx.clone(),
            |p| async move {
                match p.purge_expired_taps(&Caller::operator()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(count = n, "purged expired passes"),
                    Err(e) => tracing::warn!(error = %e, "purging expired passes failed"),
                }
            },
        )),
        tokio::spawn(on_the_leader(
            platform.clone(),
            Duration::from_secs(config.audit.purge_interval_minutes * 60),
            stop_rx.clone(),
            |p| async move {
                match p.purge_audit_log(&Caller::operator()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(count = n, "purged audit records past their retention"),
                    // The error names its cause (a full disk, a lost connection …).
                    Err(e) => tracing::warn!(error = %e, "purging the audit log failed"),
                }
            },
        )),
    ];
    // The shared sign-in counters of past minutes (several nodes on PostgreSQL only: the
    // embedded engine keeps no counters in the database).
    if platform.shares_rate_limits() {
        purges.push(tokio::spawn(on_the_leader(
            platform.clone(),
            Duration::from_secs(60),
            stop_rx.clone(),
            |p| async move {
                if let Err(e) = p.purge_rate_limits().await {
                    tracing::warn!(error = %e, "purging the shared sign-in counters failed");
                }
            },
        )));
    }
    let ldap_jobs = bridge::ldap::scheduler::spawn(platform.clone(), &config.ldap, stop_rx.clone());
    if !config.ldap.sources.is_empty() {
        let (source, sources) = (platform.clone(), Arc::new(config.ldap.sources.clone()));
        let lock = config.ldap.lock_settings();
        platform.add_metrics_source(Arc::new(move || {
            let (p, s) = (source.clone(), sources.clone());
            Box::pin(async move { bridge::ldap::status::render_metrics(&p, &s, lock).await })
        }));
    }

    let scim = if config.scim.enabled {
        let settings = ScimSettings {
            public_url: public_url.clone(),
            max_results: config.scim.max_results,
            mapping: config.scim.mapping().map_err(anyhow::Error::msg)?,
        };
        Some(Arc::new(Scim::new(platform.clone(), settings)))
    } else {
        None
    };
    let entra = bridge::entra::Entra::from_config(&config.entra, Arc::new(SystemClock))
        .map_err(anyhow::Error::msg)?;
    let rules = Arc::new(config.onboarding.rules());
    let mut mail_jobs = Vec::new();
    if config.onboarding.enabled {
        let onboarding = Arc::new(bridge::onboarding::Onboarding::new(
            platform.clone(),
            rules.as_ref().clone(),
            config.mail.default_language.clone(),
            Duration::from_millis(config.onboarding.poll_interval_ms),
        ));
        mail_jobs.push(tokio::spawn(onboarding.run(stop_rx.clone())));
    }
    if config.mail.enabled {
        let settings = config.mail.settings(&config.data_dir, &public_url);
        tracing::info!(transport = ?settings.transport, "mail delivery");
        let mut mailer =
            bridge::mail::Mailer::new(platform.clone(), settings).map_err(anyhow::Error::msg)?;
        if let Some(entra) = &entra {
            mailer = mailer.with_entra(bridge::mail::entra::EntraMinting {
                entra: entra.clone(),
                guid_sources: config.ldap.guid_sources(),
            });
        }
        let mailer = Arc::new(mailer);
        let source = mailer.clone();
        platform.add_metrics_source(Arc::new(move || {
            let m = source.clone();
            Box::pin(async move { m.metrics().await })
        }));
        mail_jobs.push(tokio::spawn(mailer.run(stop_rx.clone())));
    }
    if let Some(entra) = &entra {
        let removals = Arc::new(bridge::mail::entra_removal::Removals::new(
            platform.clone(),
            entra.clone(),
            Duration::from_millis(config.mail.poll_interval_ms),
            Duration::from_secs(config.mail.retry_base_seconds),
        ));
        let source = removals.clone();
        platform.add_metrics_source(Arc::new(move || {
            let r = source.clone();
            Box::pin(async move { r.metrics().await })
        }));
        mail_jobs.push(tokio::spawn(removals.run(stop_rx.clone())));
    }
    let web = if config.web.enabled {
        Some(web_state(&config, &platform, &public_url)?)
    } else {
        None
    };
    let oidc = if config.oidc.enabled {
        let (job, provider) =
            oidc_provider(&config, &platform, &public_url, stop_rx.clone()).await?;
        if web.is_none() {
            tracing::warn!(
                "web.enabled is false: the OpenID Connect provider serves tokens for client credentials only, no user sign-in"
            );
        }
        mail_jobs.push(job);
        Some(provider)
    } else {
        None
    };
    let app = server::router(server::Services {
        platform: platform.clone(),
        settings: server::HttpSettings {
            body_limit: config.server.body_limit_bytes,
            public_url: public_url.clone(),
        },
        scim,
        extensions: server::Extensions {
            rules,
            default_language: config.mail.default_language.clone(),
            entra,
            entra_rules: Arc::new(config.onboarding.entra_rule_terms()),
            ldap_sources: Arc::new(config.ldap.sources.clone()),
            ldap_lock: config.ldap.lock_settings(),
        },
        web,
        oidc,
    });
    tracing::info!(%addr, %public_url, database = %crate::runtime::database_name(&config), "tapbridge listening");
    // A machine-readable line for supervisors and tests that start the daemon on port 0.
    println!("tapbridge listening on http://{addr}");

    let grace = Duration::from_secs(config.server.shutdown_timeout_seconds);
    let mut stopping = stop_rx.clone();
    let server = server::serve(listener, app, async move {
        let _ = stopping.wait_for(|s| *s).await;
    });
    let mut server = std::pin::pin!(server);
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
    for purge in purges {
        let _ = purge.await;
    }
    for job in mail_jobs {
        let _ = job.await;
    }
    for job in ldap_jobs {
        let _ = job.await;
    }
    platform.store().close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The web pages: relying party and origins checked against the public URL, sessions and
/// limits from `[web]`.
fn web_state(
    config: &Config,
    platform: &Arc<Platform>,
    public_url: &str,
) -> anyhow::Result<server::WebState> {
    use plugin::domain::session::SessionTimeouts;
    use plugin::platform::{Passwordless, PasswordlessSettings};
    use server::{WebSettings, WebState};

    let web = &config.web;
    let (rp_id, origins) = web
        .relying_party(public_url)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let with_slash: Vec<String> = origins.iter().map(|o| format!("{o}/")).collect();
    let webauthn = plugin::platform::passkeys::verifier(&rp_id, &web.rp_name, &with_slash)
        .map_err(anyhow::Error::msg)?;
    let attestation_cas = if web.attestation_ca_file.as_os_str().is_empty() {
        None
    } else {
        let text = std::fs::read_to_string(&web.attestation_ca_file)
            .with_context(|| format!("cannot read `{}`", web.attestation_ca_file.display()))?;
        Some(serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not an attestation CA list",
                web.attestation_ca_file.display()
            )
        })?)
    };
    let minutes = |m: u32| time::Duration::minutes(i64::from(m));
    let settings = PasswordlessSettings {
        timeouts: SessionTimeouts {
            idle: minutes(web.session_idle_minutes),
            absolute: minutes(web.session_absolute_minutes),
            bootstrap_window: minutes(web.bootstrap_window_minutes),
        },
        attestation_cas,
    };
    let secret = runtime::server_secret(config)?;
    let passwordless = Arc::new(Passwordless::new(
        platform.clone(),
        webauthn,
        &secret,
        settings,
    ));
    let state = WebState::new(
        passwordless,
        WebSettings {
            allowed_origins: origins,
            secure_cookies: web.secure_cookies || public_url.starts_with("https://"),
            signin_per_minute_per_address: web.signin_per_minute_per_address,
            signin_per_minute_per_user: web.signin_per_minute_per_user,
        },
    );
    tracing::info!(%rp_id, "web pages enabled");
    Ok(state)
}

/// The OpenID Connect provider, with keys made on first start and rotated on schedule (the
/// returned job).
async fn oidc_provider(
    config: &Config,
    platform: &Arc<Platform>,
    public_url: &str,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, Arc<plugin::platform::Oidc>)> {
    use plugin::domain::oidc::keys::Trigger;
    let oidc = runtime::oidc(config, platform, public_url)?;
    let service = Caller::new(plugin::domain::actor::Actor::service("oidc keys"), None);
    oidc.rotate_keys(&service, Trigger::Schedule, None)
        .await
        .context("cannot prepare the token-signing keys")?;
    // Microsoft Entra's keys, fetched in the background: a wrong discovery URL shows in the
    // log at start rather than at someone's first sign-in.
    let warming = oidc.clone();
    tokio::spawn(async move { warming.prepare_entra_eam().await });
    let every = Duration::from_secs(u64::from(config.oidc.key_check_interval_minutes) * 60);
    let rotating = oidc.clone();
    let job = tokio::spawn(async move {
        let mut stop = stop;
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = rotating.rotate_keys(&service, Trigger::Schedule, None).await {
                        tracing::warn!(error = %e, "signing-key rotation failed");
                    }
                    match rotating.purge_expired().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(count = n, "purged expired codes, grants and flows"),
                        Err(e) => tracing::warn!(error = %e, "purging expired grants failed"),
                    }
                }
                () = async { let _ = stop.wait_for(|s| *s).await; } => return,
            }
        }
    });
    tracing::info!(issuer = %oidc.issuer(), "OpenID Connect provider enabled");
    Ok((job, oidc))
}

async fn first_start_hint(platform: &Platform) -> anyhow::Result<()> {
    if platform.gauges().await?.api_tokens == 0 {
        tracing::warn!(
            "no API token exists yet. Create the first administrator token with:\n\n    \
             tapbridge token create --name admin --role privileged-authentication-administrator \
             --role authentication-policy-administrator --role user-administrator\n\n\
             (run it with the same configuration; the token is printed once)"
        );
    }
    Ok(())
}

pub(crate) async fn shutdown_signal() {
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

/// Runs `job` every `every` on the node that leads (always the one node on SQLite; on
/// PostgreSQL the leader: the others would only queue behind it), until `stop`.
async fn on_the_leader<F, Fut>(
    platform: Arc<Platform>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    job: F,
) where
    F: Fn(Arc<Platform>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if platform.leads() {
                    job(platform.clone()).await;
                }
            }
            () = async { let _ = stop.wait_for(|s| *s).await; } => return,
        }
    }
}
