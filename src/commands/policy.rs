use std::io::Read;

use anyhow::Context;
use plugin::domain::tap_policy::{
    POLICY_ID, POLICY_ODATA_TYPE, PolicyState, TapPolicy, TapPolicyPatch, Target,
};
use plugin::platform::{Caller, Platform};

use super::{UsageError, output};
use crate::cli::{PolicyCommand, PolicySet};
use crate::config::Config;
use crate::runtime;

fn policy_json(p: &TapPolicy) -> serde_json::Value {
    let mut v = serde_json::json!({"@odata.type": POLICY_ODATA_TYPE, "id": POLICY_ID});
    if let (serde_json::Value::Object(out), Ok(serde_json::Value::Object(fields))) =
        (&mut v, serde_json::to_value(p))
    {
        out.extend(fields);
    }
    v
}

pub async fn run(command: PolicyCommand, config: &Config) -> anyhow::Result<()> {
    let platform = runtime::open_platform(config).await?;
    let op = Caller::operator();
    match command {
        PolicyCommand::Show => output::json(&policy_json(&platform.tap_policy(&op).await?)),
        PolicyCommand::Set(set) => {
            let patch = patch_from(&platform, &op, set).await?;
            let policy = platform.update_tap_policy(&op, patch).await?;
            output::json(&policy_json(&policy));
        }
    }
    platform.store().close().await;
    Ok(())
}

async fn patch_from(
    platform: &Platform,
    op: &Caller,
    set: PolicySet,
) -> anyhow::Result<TapPolicyPatch> {
    if let Some(path) = set.json {
        let mut text = String::new();
        if path.as_os_str() == "-" {
            std::io::stdin().read_to_string(&mut text)?;
        } else {
            text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read `{}`", path.display()))?;
        }
        return serde_json::from_str(&text).map_err(|e| UsageError(format!("--json: {e}")).into());
    }
    let state = match set.state.as_deref() {
        None => None,
        Some(s) if s.eq_ignore_ascii_case("enabled") => Some(PolicyState::Enabled),
        Some(s) if s.eq_ignore_ascii_case("disabled") => Some(PolicyState::Disabled),
        Some(s) => {
            return Err(
                UsageError(format!("--state: expected enabled or disabled, got `{s}`")).into(),
            );
        }
    };
    let mut include = None;
    if !set.include.is_empty() {
        let mut targets = Vec::new();
        for key in &set.include {
            if key == "all_users" {
                targets.push(Target::all_users());
            } else {
                targets.push(Target::group(
                    platform.group_by_id_or_name(op, key).await?.id,
                ));
            }
        }
        include = Some(targets);
    }
    let mut exclude = None;
    if !set.exclude.is_empty() {
        let mut targets = Vec::new();
        for key in set.exclude.iter().filter(|k| k.as_str() != "none") {
            let id = platform.group_by_id_or_name(op, key).await?.id;
            targets.push(Target {
                is_registration_required: None,
                ..Target::group(id)
            });
        }
        exclude = Some(targets);
    }
    Ok(TapPolicyPatch {
        state,
        include_targets: include,
        exclude_targets: exclude,
        minimum_lifetime_in_minutes: set.min_lifetime,
        maximum_lifetime_in_minutes: set.max_lifetime,
        default_lifetime_in_minutes: set.default_lifetime,
        default_length: set.length,
        is_usable_once: set.usable_once,
        ..Default::default()
    })
}
