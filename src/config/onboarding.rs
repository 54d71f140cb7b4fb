//! `[onboarding]`: the rules that send a joiner a pass, and their translation into the
//! bridge's rules.

use bridge::onboarding::{Recipient, Rule, Timing};
use serde::Deserialize;

use super::{ConfigError, bad};

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnboardingConfig {
    pub enabled: bool,
    pub poll_interval_ms: u64,
    pub rules: Vec<RuleConfig>,
}

impl Default for OnboardingConfig {
    fn default() -> Self {
        OnboardingConfig {
            enabled: true,
            poll_interval_ms: 1000,
            rules: vec![],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    Creation,
    BeforeHireDate,
}

/// Where a rule's pass is minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mint {
    /// By tapbridge, for its own sign-in pages.
    Local,
    /// In the Microsoft Entra tenant of `[entra]`.
    Entra,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    pub sources: Vec<String>,
    pub groups: Vec<String>,
    pub without_passkey: bool,
    pub when: When,
    pub days_before_hire: u32,
    pub lifetime_minutes: Option<u32>,
    pub usable_once: Option<bool>,
    pub start_at_hire_date: bool,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub mint: Mint,
    /// Entra keeps one pass per user: replace one the user has (else the message fails).
    pub replace_existing_pass: bool,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            name: String::new(),
            sources: vec![],
            groups: vec![],
            without_passkey: true,
            when: When::Creation,
            days_before_hire: 0,
            lifetime_minutes: None,
            usable_once: None,
            start_at_hire_date: false,
            recipients: vec!["personal".into(), "work".into()],
            cc: vec![],
            mint: Mint::Local,
            replace_existing_pass: false,
        }
    }
}

impl OnboardingConfig {
    pub fn validate(&self, errors: &mut Vec<ConfigError>) {
        if !(10..=60_000).contains(&self.poll_interval_ms) {
            errors.push(bad(
                "onboarding.poll_interval_ms",
                "must be between 10 and 60000",
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let key = |k: &str| format!("onboarding.rules[{i}].{k}");
            if r.name.trim().is_empty() {
                errors.push(bad(&key("name"), "every rule needs a name"));
            }
            if r.recipients.is_empty() {
                errors.push(bad(
                    &key("recipients"),
                    "list at least one of personal, work, manager",
                ));
            }
            for rcp in &r.recipients {
                if parse_recipient(rcp).is_none() {
                    errors.push(bad(
                        &key("recipients"),
                        format!("`{rcp}` is not personal, work or manager"),
                    ));
                }
            }
            for cc in &r.cc {
                if cc.parse::<lettre::Address>().is_err() {
                    errors.push(bad(&key("cc"), format!("`{cc}` is not an e-mail address")));
                }
            }
            if r.when == When::Creation && r.days_before_hire != 0 {
                errors.push(bad(
                    &key("days_before_hire"),
                    "applies only with when = \"before_hire_date\"",
                ));
            }
            if r.days_before_hire > 365 {
                errors.push(bad(&key("days_before_hire"), "must be at most 365"));
            }
            if r.replace_existing_pass && r.mint != Mint::Entra {
                errors.push(bad(
                    &key("replace_existing_pass"),
                    "applies only with mint = \"entra\" (a local pass always replaces the old one)",
                ));
            }
            if let Some(l) = r.lifetime_minutes
                && !(10..=43_200).contains(&l)
            {
                errors.push(bad(
                    &key("lifetime_minutes"),
                    "must be between 10 and 43200 (and within the TAP policy)",
                ));
            }
        }
    }

    /// The pass terms of the rules that mint in Entra, for `tapbridge entra check`.
    pub fn entra_rule_terms(&self) -> Vec<bridge::entra::RuleTerms> {
        self.rules
            .iter()
            .filter(|r| r.mint == Mint::Entra)
            .map(|r| bridge::entra::RuleTerms {
                name: r.name.clone(),
                lifetime_minutes: r.lifetime_minutes,
                usable_once: r.usable_once,
            })
            .collect()
    }

    pub fn rules(&self) -> Vec<Rule> {
        self.rules
            .iter()
            .map(|r| Rule {
                name: r.name.clone(),
                sources: r.sources.clone(),
                groups: r.groups.clone(),
                without_passkey: r.without_passkey,
                timing: match r.when {
                    When::Creation => Timing::AtCreation,
                    When::BeforeHireDate => Timing::DaysBeforeHire(r.days_before_hire),
                },
                lifetime_minutes: r.lifetime_minutes,
                usable_once: r.usable_once,
                start_at_hire_date: r.start_at_hire_date,
                recipients: r
                    .recipients
                    .iter()
                    .filter_map(|s| parse_recipient(s))
                    .collect(),
                cc: r.cc.clone(),
                mint: match r.mint {
                    Mint::Local => bridge::onboarding::Mint::Local,
                    Mint::Entra => bridge::onboarding::Mint::Entra,
                },
                replace_existing_pass: r.replace_existing_pass,
            })
            .collect()
    }
}

fn parse_recipient(s: &str) -> Option<Recipient> {
    match s.to_ascii_lowercase().as_str() {
        "personal" => Some(Recipient::Personal),
        "work" => Some(Recipient::Work),
        "manager" => Some(Recipient::Manager),
        _ => None,
    }
}
