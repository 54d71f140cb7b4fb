//! A pass's state in plain words: a short label for administrators ("Locked — too many wrong
//! codes", never `DisabledByPolicy`) and a sentence for the person who holds it.

use serde::Serialize;

use super::i18n::Lang;
use super::pages::When;
use plugin::domain::tap::{TapRecord, Usability, UsabilityDetail, UsabilityReason};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassState {
    pub usable: bool,
    pub label: String,
    /// What it means for the pass's holder.
    pub sentence: String,
    pub expires: When,
    pub once: bool,
    pub failed_attempts: u32,
}

pub fn pass_state(record: &TapRecord, usability: &Usability, lang: Lang) -> PassState {
    use UsabilityDetail as D;
    use UsabilityReason as R;
    let expires = When::new(record.expires_at(), lang);
    let starts = When::new(record.valid_from(), lang);
    let (label, sentence) = match (usability.reason, usability.detail) {
        (R::EnabledByPolicy, _) => (
            "pass_state_usable",
            lang.format("pass_you_usable", &[("time", &expires.text)]),
        ),
        (R::OneTimeUsed, _) => ("pass_state_used", lang.text("pass_you_used").to_owned()),
        (R::Expired, _) => (
            "pass_state_expired",
            lang.text("pass_you_expired").to_owned(),
        ),
        (R::NotYetValid, _) => (
            "pass_state_not_yet",
            lang.format("pass_you_not_yet", &[("time", &starts.text)]),
        ),
        (R::DisabledByPolicy, Some(D::LockedOut)) => {
            ("pass_state_locked", lang.text("pass_you_locked").to_owned())
        }
        (R::DisabledByPolicy, Some(D::AccountDisabled)) => (
            "pass_state_account_disabled",
            lang.text("pass_you_unusable").to_owned(),
        ),
        (R::DisabledByPolicy, Some(D::NotTargeted)) => (
            "pass_state_not_targeted",
            lang.text("pass_you_unusable").to_owned(),
        ),
        (R::DisabledByPolicy, Some(D::PolicyDisabled) | None) => (
            "pass_state_policy_off",
            lang.text("pass_you_unusable").to_owned(),
        ),
    };
    PassState {
        usable: usability.is_usable(),
        label: lang.text(label).to_owned(),
        sentence,
        expires,
        once: record.is_usable_once,
        failed_attempts: record.failed_attempts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use uuid::Uuid;

    #[test]
    fn a_locked_pass_says_so_in_both_languages() {
        let record = TapRecord {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            created_at: datetime!(2026-11-27 09:00 UTC),
            start_date_time: None,
            lifetime_in_minutes: 60,
            is_usable_once: true,
            first_used_at: None,
            use_count: 0,
            failed_attempts: 10,
            locked_at: Some(datetime!(2026-11-27 09:10 UTC)),
        };
        let locked = Usability {
            reason: UsabilityReason::DisabledByPolicy,
            detail: Some(UsabilityDetail::LockedOut),
        };
        let en = pass_state(&record, &locked, Lang::En);
        assert_eq!(en.label, "Locked — too many wrong codes");
        assert!(en.sentence.contains("locked"), "{}", en.sentence);
        assert!(!en.usable);
        let de = pass_state(&record, &locked, Lang::De);
        assert!(de.label.starts_with("Gesperrt"), "{}", de.label);
        assert_eq!(de.expires.text, "27.11.2026, 10:00 UTC");
        let usable = Usability {
            reason: UsabilityReason::EnabledByPolicy,
            detail: None,
        };
        let ok = pass_state(&record, &usable, Lang::En);
        assert!(ok.usable);
        assert!(
            ok.sentence.contains("27 Nov 2026, 10:00 UTC"),
            "{}",
            ok.sentence
        );
    }
}
