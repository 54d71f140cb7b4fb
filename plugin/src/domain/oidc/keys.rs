//! Signing-key lifecycle. Per algorithm there is at most one `current` key (it signs) and one
//! `next` key (published, not yet signing); `retired` keys are published until every token
//! they signed has expired. A rotation promotes `next` to `current` — so a key signs only
//! after it was published for a whole rotation period — retires `current`, and makes a new
//! `next`.

use time::{Duration, OffsetDateTime};

use crate::jose::Alg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Next,
    Current,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<KeyState> {
        match s {
            "next" => Some(KeyState::Next),
            "current" => Some(KeyState::Current),
            "retired" => Some(KeyState::Retired),
            _ => None,
        }
    }
}

/// What is known about a stored key, without its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: Alg,
    pub state: KeyState,
    pub created_at: OffsetDateTime,
    /// When it started signing.
    pub activated_at: Option<OffsetDateTime>,
    pub retired_at: Option<OffsetDateTime>,
    /// Retired keys: published until then, deleted after.
    pub publish_until: Option<OffsetDateTime>,
}

/// One step of a rotation, applied in order in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Make a key for `alg` in `state` (`Current` only when the algorithm has no key yet).
    Create { alg: Alg, state: KeyState },
    /// `kid` (next) starts signing.
    Activate { kid: String },
    /// `kid` (current) stops signing; published until `publish_until`.
    Retire {
        kid: String,
        publish_until: OffsetDateTime,
    },
    /// A retired key past its publication.
    Delete { kid: String },
}

/// Why a rotation happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule: rotate keys whose rotation period has passed.
    Schedule,
    /// An operator asked for it (`tapbridge keys rotate`): rotate now.
    Now,
}

/// The steps that bring `alg`'s keys up to date at `now`. `wanted` says whether the algorithm
/// is in use at all: an algorithm no client needs gets no key (RSA keys are made lazily), but
/// one that has keys keeps rotating.
pub fn plan(
    keys: &[KeyInfo],
    alg: Alg,
    wanted: bool,
    trigger: Trigger,
    rotation: Duration,
    retired_publication: Duration,
    now: OffsetDateTime,
) -> Vec<KeyAction> {
    let mut actions = Vec::new();
    let of_alg: Vec<&KeyInfo> = keys.iter().filter(|k| k.alg == alg).collect();
    for k in &of_alg {
        if k.state == KeyState::Retired && k.publish_until.is_none_or(|t| t <= now) {
            actions.push(KeyAction::Delete { kid: k.kid.clone() });
        }
    }
    let current = of_alg.iter().find(|k| k.state == KeyState::Current);
    let next = of_alg.iter().find(|k| k.state == KeyState::Next);
    match (current, next) {
        (None, _) if !wanted && next.is_none() => {}
        (None, None) => {
            // The first key of an algorithm signs at once: nothing signed with it can exist
            // yet, so no relying party can be missing it.
            actions.push(KeyAction::Create {
                alg,
                state: KeyState::Current,
            });
            actions.push(KeyAction::Create {
                alg,
                state: KeyState::Next,
            });
        }
        (None, Some(next)) => {
            actions.push(KeyAction::Activate {
                kid: next.kid.clone(),
            });
            actions.push(KeyAction::Create {
                alg,
                state: KeyState::Next,
            });
        }
        (Some(current), next) => {
            let since = current.activated_at.unwrap_or(current.created_at);
            let due = trigger == Trigger::Now || now - since >= rotation;
            match next {
                Some(next) if due => {
                    actions.push(KeyAction::Retire {
                        kid: current.kid.clone(),
                        publish_until: now + retired_publication,
                    });
                    actions.push(KeyAction::Activate {
                        kid: next.kid.clone(),
                    });
                    actions.push(KeyAction::Create {
                        alg,
                        state: KeyState::Next,
                    });
                }
                // No next key (lost, or an old database): publish one now; it takes over at
                // the following rotation, once relying parties can have seen it.
                None => actions.push(KeyAction::Create {
                    alg,
                    state: KeyState::Next,
                }),
                Some(_) => {}
            }
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 00:00 UTC);
    const DAY: Duration = Duration::days(1);

    fn key(kid: &str, state: KeyState, activated: Option<OffsetDateTime>) -> KeyInfo {
        KeyInfo {
            kid: kid.into(),
            alg: Alg::Es256,
            state,
            created_at: T0,
            activated_at: activated,
            retired_at: None,
            publish_until: None,
        }
    }

    fn run(
        keys: &[KeyInfo],
        wanted: bool,
        trigger: Trigger,
        now: OffsetDateTime,
    ) -> Vec<KeyAction> {
        plan(
            keys,
            Alg::Es256,
            wanted,
            trigger,
            30 * DAY,
            Duration::hours(2),
            now,
        )
    }

    #[test]
    fn the_first_key_signs_at_once_and_a_next_key_is_published() {
        assert_eq!(
            run(&[], true, Trigger::Schedule, T0),
            vec![
                KeyAction::Create {
                    alg: Alg::Es256,
                    state: KeyState::Current
                },
                KeyAction::Create {
                    alg: Alg::Es256,
                    state: KeyState::Next
                },
            ]
        );
        assert!(
            run(&[], false, Trigger::Schedule, T0).is_empty(),
            "unused algorithm: no key"
        );
    }

    #[test]
    fn rotation_waits_for_the_period_then_promotes_the_published_next_key() {
        let keys = [
            key("a", KeyState::Current, Some(T0)),
            key("b", KeyState::Next, None),
        ];
        assert!(run(&keys, true, Trigger::Schedule, T0 + 29 * DAY).is_empty());
        let now = T0 + 30 * DAY;
        assert_eq!(
            run(&keys, false, Trigger::Schedule, now),
            vec![
                KeyAction::Retire {
                    kid: "a".into(),
                    publish_until: now + Duration::hours(2)
                },
                KeyAction::Activate { kid: "b".into() },
                KeyAction::Create {
                    alg: Alg::Es256,
                    state: KeyState::Next
                },
            ]
        );
        assert_eq!(run(&keys, true, Trigger::Now, T0 + DAY).len(), 3, "forced");
    }

    #[test]
    fn retired_keys_go_after_their_publication_and_a_missing_next_is_made() {
        let mut retired = key("old", KeyState::Retired, Some(T0));
        retired.publish_until = Some(T0 + DAY);
        let keys = [retired, key("a", KeyState::Current, Some(T0))];
        assert_eq!(
            run(&keys, true, Trigger::Schedule, T0 + Duration::hours(1)),
            vec![KeyAction::Create {
                alg: Alg::Es256,
                state: KeyState::Next
            }]
        );
        assert_eq!(
            run(&keys, true, Trigger::Schedule, T0 + DAY),
            vec![
                KeyAction::Delete { kid: "old".into() },
                KeyAction::Create {
                    alg: Alg::Es256,
                    state: KeyState::Next
                },
            ]
        );
        // Other algorithms' keys are not this plan's business.
        let mut rsa = key("r", KeyState::Current, Some(T0));
        rsa.alg = Alg::Rs256;
        assert_eq!(run(&[rsa], false, Trigger::Schedule, T0 + 90 * DAY), vec![]);
    }
}
