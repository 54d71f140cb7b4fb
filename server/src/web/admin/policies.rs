//! The pass and passkey policies: read by any administrative role, changed by the
//! Authentication Policy Administrator. A passkey policy that would lock everyone out is
//! saved only after a warning and a second, explicit "save anyway".

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::web::WebState;
use crate::web::auth::{self, AdminSession};
use crate::web::error::PageError;
use crate::web::fields::{FieldErrors, whole_number};
use crate::web::form::{PageForm, PageQuery};
use crate::web::i18n::Lang;
use crate::web::notices::{Done, Notice};
use crate::web::pages::Page;
use crate::web::viewer;
use plugin::Error;
use plugin::domain::fido2_policy::{
    EnforcementType, Fido2Policy, Fido2PolicyPatch, KeyRestrictionsPatch, LockoutRisk, MAX_AAGUIDS,
};
use plugin::domain::tap_policy::{
    LENGTH_RANGE, LIFETIME_RANGE, PolicyState, TapPolicy, TapPolicyPatch,
};
use plugin::domain::webauthn::known_model;

/// The pass policy form's fields, as typed (or as stored).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TapPolicyForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    min: String,
    #[serde(default)]
    max: String,
    #[serde(default)]
    default: String,
    #[serde(default)]
    length: String,
    #[serde(default)]
    once: String,
}

impl TapPolicyForm {
    fn of(p: &TapPolicy) -> Self {
        TapPolicyForm {
            csrf: String::new(),
            enabled: yes(p.state == PolicyState::Enabled),
            min: p.minimum_lifetime_in_minutes.to_string(),
            max: p.maximum_lifetime_in_minutes.to_string(),
            default: p.default_lifetime_in_minutes.to_string(),
            length: p.default_length.to_string(),
            once: yes(p.is_usable_once),
        }
    }
}

/// The passkey policy form's fields, as typed (or as stored).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Fido2PolicyForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    enabled: String,
    #[serde(default)]
    self_service: String,
    #[serde(default)]
    attestation: String,
    #[serde(default)]
    restrict: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    aaguids: String,
    /// `yes`: saved after the lock-out warning.
    #[serde(default, skip_serializing)]
    confirm: String,
}

impl Fido2PolicyForm {
    fn of(p: &Fido2Policy) -> Self {
        let k = &p.key_restrictions;
        Fido2PolicyForm {
            csrf: String::new(),
            enabled: yes(p.state == PolicyState::Enabled),
            self_service: yes(p.is_self_service_registration_allowed),
            attestation: yes(p.is_attestation_enforced),
            restrict: yes(k.is_enforced),
            kind: match k.enforcement_type {
                EnforcementType::Allow => "allow",
                EnforcementType::Block => "block",
            }
            .into(),
            aaguids: k
                .aa_guids
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            confirm: String::new(),
        }
    }

    /// What was typed kept to a size a page can show again.
    fn bounded(mut self) -> Self {
        self.aaguids = self.aaguids.chars().take(40 * MAX_AAGUIDS).collect();
        self.kind = self.kind.chars().take(16).collect();
        self
    }
}

fn yes(b: bool) -> String {
    if b { "yes".into() } else { String::new() }
}

#[derive(Serialize)]
struct Listed {
    aaguid: String,
    model: Option<&'static str>,
}

/// One form's state on the page: what it shows, what was wrong with it.
#[derive(Default)]
struct FormState<F> {
    values: Option<F>,
    errors: FieldErrors,
    error: Option<String>,
}

/// The page with both forms; `tap` and `fido2` replace the stored values with what was typed.
async fn policies_page(
    state: &WebState,
    a: &AdminSession,
    tap: FormState<TapPolicyForm>,
    fido2: FormState<Fido2PolicyForm>,
    warnings: Vec<LockoutRisk>,
) -> Result<Page, PageError> {
    let platform = state.passwordless.platform();
    let stored_tap = platform.tap_policy(&a.caller).await?;
    let stored_fido2 = platform.fido2_policy(&a.caller).await?;
    let page = Page::new("admin_policies.html", "policies_title");
    let lang = page.lang();
    let read_only = a
        .caller
        .actor
        .missing_role_to_manage_policy()
        .map(|role| lang.format("policies_read_only", &[("role", role.display_name())]));
    let roots = state.passwordless.has_attestation_roots();
    let listed: Vec<Listed> = stored_fido2
        .key_restrictions
        .aa_guids
        .iter()
        .map(|id| Listed {
            aaguid: id.to_string(),
            model: known_model(*id),
        })
        .collect();
    let confirming = !warnings.is_empty();
    let warnings_now = if confirming {
        vec![]
    } else {
        risk_texts(&stored_fido2.lockout_risks(roots), lang)
    };
    Ok(page
        .with("read_only", &read_only)
        .with(
            "tap",
            &tap.values.unwrap_or_else(|| TapPolicyForm::of(&stored_tap)),
        )
        .with(
            "tap_focus",
            &tap.errors
                .first_of(&["min", "max", "default", "length"])
                .unwrap_or(""),
        )
        .with("tap_errors", &tap.errors)
        .with("tap_error", &tap.error)
        .with(
            "fido2",
            &fido2
                .values
                .unwrap_or_else(|| Fido2PolicyForm::of(&stored_fido2)),
        )
        .with("fido2_errors", &fido2.errors)
        .with("fido2_error", &fido2.error)
        .with("listed", &listed)
        .with("attestation_roots", &roots)
        .with("lifetime_min", LIFETIME_RANGE.start())
        .with("lifetime_max", LIFETIME_RANGE.end())
        .with("length_min", LENGTH_RANGE.start())
        .with("length_max", LENGTH_RANGE.end())
        .with("warnings", &risk_texts(&warnings, lang))
        .with("confirming", &confirming)
        .with("risks_now", &warnings_now))
}

fn risk_texts(risks: &[LockoutRisk], lang: Lang) -> Vec<&'static str> {
    risks
        .iter()
        .map(|r| match r {
            LockoutRisk::Disabled => lang.text("risk_passkeys_off"),
            LockoutRisk::EmptyAllowList => lang.text("risk_empty_allow_list"),
            LockoutRisk::AttestationWithoutRoots => lang.text("risk_attestation_without_roots"),
        })
        .collect()
}

/// `GET /admin/policies` — any administrative role; editable only with the Authentication
/// Policy Administrator role.
pub async fn show_policies(
    State(state): State<WebState>,
    a: AdminSession,
    PageQuery(done): PageQuery<Done>,
) -> Result<Response, PageError> {
    let mut page = policies_page(
        &state,
        &a,
        FormState::default(),
        FormState::default(),
        vec![],
    )
    .await?;
    if let Some(n) = done.notice(&[Notice::TapPolicySaved, Notice::Fido2PolicySaved]) {
        page = page.notice(n.key());
    }
    Ok(page.into_response())
}

fn check_manage(a: &AdminSession) -> Result<(), PageError> {
    match a.caller.actor.missing_role_to_manage_policy() {
        Some(role) => Err(PageError::MissingRole(role)),
        None => Ok(()),
    }
}

/// The pass policy typed, checked in the page's words; `None` when something is wrong.
fn tap_patch(f: &TapPolicyForm, errors: &mut FieldErrors) -> Option<TapPolicyPatch> {
    let lang = viewer::lang();
    let range = |field: &'static str,
                 typed: &str,
                 r: &std::ops::RangeInclusive<u32>,
                 errors: &mut FieldErrors| {
        let limits = [("min", r.start().to_string()), ("max", r.end().to_string())];
        let limits: Vec<(&str, &str)> = limits.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match whole_number(typed) {
            Some(v) if r.contains(&v) => Some(v),
            _ => {
                errors.add(field, lang.format("number_out_of_range", &limits));
                None
            }
        }
    };
    let min = range("min", &f.min, &LIFETIME_RANGE, errors);
    let max = range("max", &f.max, &LIFETIME_RANGE, errors);
    let default = range("default", &f.default, &LIFETIME_RANGE, errors);
    let length = range("length", &f.length, &LENGTH_RANGE, errors);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        errors.add("max", lang.text("policy_max_below_min"));
    }
    if let (Some(min), Some(max), Some(default)) = (min, max, default)
        && min <= max
        && !(min..=max).contains(&default)
    {
        errors.add("default", lang.text("policy_default_outside"));
    }
    if !errors.is_empty() {
        return None;
    }
    Some(TapPolicyPatch {
        state: Some(state_of(&f.enabled)),
        minimum_lifetime_in_minutes: min,
        maximum_lifetime_in_minutes: max,
        default_lifetime_in_minutes: default,
        default_length: length,
        is_usable_once: Some(f.once == "yes"),
        ..Default::default()
    })
}

fn state_of(checkbox: &str) -> PolicyState {
    if checkbox == "yes" {
        PolicyState::Enabled
    } else {
        PolicyState::Disabled
    }
}

/// `POST /admin/policies/tap` — Authentication Policy Administrator. A value out of range
/// comes back next to its field, as typed.
pub async fn update_tap_policy(
    State(state): State<WebState>,
    a: AdminSession,
    PageForm(f): PageForm<TapPolicyForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &a.signed_in, &f.csrf)?;
    check_manage(&a)?;
    let mut errors = FieldErrors::new();
    let refused = match tap_patch(&f, &mut errors) {
        None => None,
        Some(patch) => match state
            .passwordless
            .platform()
            .update_tap_policy(&a.caller, patch)
            .await
        {
            Ok(_) => {
                return Ok(
                    Redirect::to(&Notice::TapPolicySaved.after("/admin/policies")).into_response(),
                );
            }
            // Checked above in the page's words; what is left is the platform's own.
            Err(Error::InvalidInput(m) | Error::PolicyViolation(m)) => Some(m),
            Err(e) => return Err(e.into()),
        },
    };
    let values = TapPolicyForm {
        min: f.min.chars().take(16).collect(),
        max: f.max.chars().take(16).collect(),
        default: f.default.chars().take(16).collect(),
        length: f.length.chars().take(16).collect(),
        ..f
    };
    let tap = FormState {
        values: Some(values),
        errors,
        error: refused,
    };
    Ok(policies_page(&state, &a, tap, FormState::default(), vec![])
        .await?
        .status(StatusCode::BAD_REQUEST)
        .into_response())
}

/// The passkey policy typed; `None` when something is wrong.
fn fido2_patch(f: &Fido2PolicyForm, errors: &mut FieldErrors) -> Option<Fido2PolicyPatch> {
    let lang = viewer::lang();
    let mut aaguids = Vec::new();
    for token in f
        .aaguids
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
    {
        match Uuid::try_parse(token) {
            Ok(id) => aaguids.push(id),
            Err(_) => {
                let shown: String = token.chars().take(64).collect();
                errors.add(
                    "aaguids",
                    lang.format("aaguid_invalid", &[("value", &shown)]),
                );
            }
        }
    }
    if aaguids.len() > MAX_AAGUIDS {
        errors.add(
            "aaguids",
            lang.format("aaguid_too_many", &[("max", &MAX_AAGUIDS.to_string())]),
        );
    }
    let kind = match f.kind.as_str() {
        "allow" => Some(EnforcementType::Allow),
        "block" => Some(EnforcementType::Block),
        _ => {
            errors.add("kind", lang.text("restriction_kind_missing"));
            None
        }
    };
    if !errors.is_empty() {
        return None;
    }
    Some(Fido2PolicyPatch {
        state: Some(state_of(&f.enabled)),
        is_self_service_registration_allowed: Some(f.self_service == "yes"),
        is_attestation_enforced: Some(f.attestation == "yes"),
        key_restrictions: Some(KeyRestrictionsPatch {
            is_enforced: Some(f.restrict == "yes"),
            enforcement_type: kind,
            aa_guids: Some(aaguids),
        }),
        ..Default::default()
    })
}

/// `POST /admin/policies/fido2` — Authentication Policy Administrator. A policy that would
/// lock everyone out comes back with a warning and is saved only with `confirm=yes`.
pub async fn update_fido2_policy(
    State(state): State<WebState>,
    a: AdminSession,
    PageForm(f): PageForm<Fido2PolicyForm>,
) -> Result<Response, PageError> {
    auth::check_csrf(&state, &a.signed_in, &f.csrf)?;
    check_manage(&a)?;
    let platform = state.passwordless.platform();
    let mut errors = FieldErrors::new();
    let patch = fido2_patch(&f, &mut errors);
    let mut refused = None;
    let mut warnings = vec![];
    if let Some(patch) = patch {
        let stored = platform.fido2_policy(&a.caller).await?;
        match stored.patched(patch.clone()) {
            Ok(after) => {
                warnings = after.lockout_risks(state.passwordless.has_attestation_roots());
                if warnings.is_empty() || f.confirm == "yes" {
                    platform.update_fido2_policy(&a.caller, patch).await?;
                    return Ok(
                        Redirect::to(&Notice::Fido2PolicySaved.after("/admin/policies"))
                            .into_response(),
                    );
                }
            }
            Err(Error::InvalidInput(m) | Error::PolicyViolation(m)) => refused = Some(m),
            Err(e) => return Err(e.into()),
        }
    }
    let status = if warnings.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        // Nothing is wrong with the form: it waits for a decision.
        StatusCode::OK
    };
    let fido2 = FormState {
        values: Some(f.bounded()),
        errors,
        error: refused,
    };
    Ok(
        policies_page(&state, &a, FormState::default(), fido2, warnings)
            .await?
            .status(status)
            .into_response(),
    )
}
