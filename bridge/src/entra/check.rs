//! `tapbridge entra check` and `GET /v1.0/tapbridge/entra`: can tapbridge mint passes in the
//! tenant? A token, the permissions it carries, the tenant's Temporary Access Pass policy, and
//! whether each rule that mints in Entra asks for terms that policy allows.

use serde::Serialize;

use super::Entra;
use super::error::EntraError;
use super::permissions::{self, Requirement};
use super::policy::TenantPolicy;

/// A rule's pass terms, as far as the check is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTerms {
    pub name: String,
    pub lifetime_minutes: Option<u32>,
    pub usable_once: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub configured: bool,
    /// Everything below holds: tapbridge can mint passes for every Entra rule.
    pub ok: bool,
    pub tenant_id: String,
    pub client_id: String,
    pub authority_url: String,
    pub graph_url: String,
    /// `clientSecret` or `certificate`.
    pub credential: &'static str,
    pub token: TokenCheck,
    pub permissions: PermissionCheck,
    pub policy: PolicyCheck,
    pub rules: Vec<RuleCheck>,
}

/// What Entra said when it refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
}

impl From<&EntraError> for Problem {
    fn from(e: &EntraError) -> Self {
        let (status, message) = match e {
            EntraError::NotFound { message, .. } => (Some(404), message.clone()),
            EntraError::Throttled {
                status, message, ..
            }
            | EntraError::Refused {
                status, message, ..
            } => (Some(*status), message.clone()),
            EntraError::Unavailable(m) => (None, m.clone()),
        };
        Problem {
            status,
            code: e.code().map(str::to_owned),
            message,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenCheck {
    pub ok: bool,
    pub expires_date_time: Option<String>,
    pub error: Option<Problem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionCheck {
    /// Whether the token's `roles` claim could be read at all.
    pub known: bool,
    pub granted: Vec<String>,
    pub missing: Vec<Requirement>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyCheck {
    pub ok: bool,
    pub enabled: Option<bool>,
    pub targets_all_users: Option<bool>,
    /// The policy as Entra returned it.
    pub temporary_access_pass: Option<TenantPolicy>,
    pub error: Option<Problem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCheck {
    pub name: String,
    pub lifetime_in_minutes: Option<u32>,
    pub is_usable_once: Option<bool>,
    /// `None` when the policy could not be read.
    pub fits: Option<bool>,
    pub problems: Vec<String>,
}

impl Entra {
    /// Runs every check; never fails (what failed is in the report).
    pub async fn check(&self, rules: &[RuleTerms]) -> CheckReport {
        let token = self.graph().tokens().get().await;
        let (token_check, permissions) = match &token {
            Ok(t) => {
                let roles = permissions::roles(t.value.expose());
                (
                    TokenCheck {
                        ok: true,
                        expires_date_time: Some(plugin::domain::timefmt::rfc3339(t.expires_at)),
                        error: None,
                    },
                    PermissionCheck {
                        known: roles.is_some(),
                        missing: roles
                            .as_deref()
                            .map(permissions::missing)
                            .unwrap_or_default(),
                        granted: roles.unwrap_or_default(),
                    },
                )
            }
            Err(e) => (
                TokenCheck {
                    ok: false,
                    expires_date_time: None,
                    error: Some(e.into()),
                },
                PermissionCheck {
                    known: false,
                    granted: vec![],
                    missing: vec![],
                },
            ),
        };
        let policy = match &token {
            Ok(_) => Some(self.graph().tap_policy().await),
            Err(_) => None,
        };
        let policy_check = match &policy {
            Some(Ok(p)) => PolicyCheck {
                ok: p.enabled(),
                enabled: Some(p.enabled()),
                targets_all_users: Some(p.targets_all_users()),
                temporary_access_pass: Some(p.clone()),
                error: None,
            },
            Some(Err(e)) => PolicyCheck {
                ok: false,
                enabled: None,
                targets_all_users: None,
                temporary_access_pass: None,
                error: Some(e.into()),
            },
            None => PolicyCheck {
                ok: false,
                enabled: None,
                targets_all_users: None,
                temporary_access_pass: None,
                error: None,
            },
        };
        let rules: Vec<RuleCheck> = rules
            .iter()
            .map(|r| {
                let problems = match &policy {
                    Some(Ok(p)) => Some(p.misfits(r.lifetime_minutes, r.usable_once)),
                    _ => None,
                };
                RuleCheck {
                    name: r.name.clone(),
                    lifetime_in_minutes: r.lifetime_minutes,
                    is_usable_once: r.usable_once,
                    fits: problems.as_ref().map(Vec::is_empty),
                    problems: problems.unwrap_or_default(),
                }
            })
            .collect();
        let ok = token_check.ok
            && permissions.missing.is_empty()
            && policy_check.ok
            && rules.iter().all(|r| r.fits == Some(true));
        CheckReport {
            configured: true,
            ok,
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            authority_url: self.authority_url.clone(),
            graph_url: self.graph_url.clone(),
            credential: self.credential_kind,
            token: token_check,
            permissions,
            policy: policy_check,
            rules,
        }
    }
}

impl CheckReport {
    /// The report for people: one line per fact, problems spelled out.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut line = |label: &str, text: String| {
            out.push_str(&format!("{label:<13}{text}\n"));
        };
        line(
            "tenant",
            format!(
                "{} (application {}, {})",
                self.tenant_id, self.client_id, self.credential
            ),
        );
        line(
            "token",
            match (&self.token.error, &self.token.expires_date_time) {
                (Some(e), _) => format!("FAILED: {}", describe(e)),
                (None, Some(at)) => format!("ok (valid until {at})"),
                (None, None) => "ok".into(),
            },
        );
        if self.token.ok {
            line(
                "permissions",
                if !self.permissions.known {
                    "unknown (the access token is not a readable JWT)".into()
                } else if self.permissions.missing.is_empty() {
                    format!("ok ({})", self.permissions.granted.join(", "))
                } else {
                    let names: Vec<String> = self
                        .permissions
                        .missing
                        .iter()
                        .map(|m| format!("{} (for {})", m.permission, m.needed_for))
                        .collect();
                    format!(
                        "MISSING: {} — grant them as application permissions of Microsoft Graph and give admin consent",
                        names.join("; ")
                    )
                },
            );
        }
        if let Some(e) = &self.policy.error {
            line("TAP policy", format!("cannot be read: {}", describe(e)));
        } else if let Some(p) = &self.policy.temporary_access_pass {
            let targets = if p.targets_all_users() {
                "all users".to_owned()
            } else {
                format!("{} group(s)", p.include_targets.len())
            };
            line(
                "TAP policy",
                format!(
                    "{} for {targets}; lifetimes {}–{} minutes (default {}); one-time passes {}",
                    if p.enabled() {
                        "enabled".to_owned()
                    } else {
                        format!("NOT ENABLED ({})", p.state)
                    },
                    p.minimum_lifetime_in_minutes,
                    p.maximum_lifetime_in_minutes,
                    p.default_lifetime_in_minutes,
                    if p.is_usable_once {
                        "required"
                    } else {
                        "optional"
                    },
                ),
            );
        }
        if self.rules.is_empty() {
            line("rules", "no onboarding rule mints its pass in Entra".into());
        }
        for r in &self.rules {
            let terms = format!(
                "lifetime {}, one-time {}",
                r.lifetime_in_minutes
                    .map_or("policy default".into(), |l| format!("{l} min")),
                r.is_usable_once
                    .map_or("policy default", |o| if o { "yes" } else { "no" }),
            );
            let verdict = match r.fits {
                Some(true) => format!("fits ({terms})"),
                Some(false) => format!("DOES NOT FIT ({terms}): {}", r.problems.join("; ")),
                None => format!("not checked ({terms})"),
            };
            line("rule", format!("\"{}\" {verdict}", r.name));
        }
        line(
            "result",
            if self.ok {
                "ok: tapbridge can mint passes in this tenant".into()
            } else {
                "NOT READY".into()
            },
        );
        out
    }
}

fn describe(p: &Problem) -> String {
    match (&p.status, &p.code) {
        (Some(s), Some(c)) => format!("{s} {c}: {}", p.message),
        _ => p.message.clone(),
    }
}
