//! The Temporary Access Pass: generation, state, and the redemption decision.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::secret::{self, SecretString};

/// The alphabet of a pass: letters and digits without the look-alikes 0 O o 1 l I, so a pass
/// read aloud or copied from a printout survives. 55 symbols: about 5.8 bits each.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz";

/// A freshly generated pass. The only place its value exists is the response that creates it.
pub fn generate(length: usize) -> SecretString {
    secret::random_string(ALPHABET, length)
}

/// What a person typed, made comparable: white space and dashes (added when a pass is read out
/// in groups) are dropped. Case is significant.
pub fn normalise_input(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// A pass as stored: everything but its value, of which only a keyed hash exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: OffsetDateTime,
    /// The requested start; `None` means valid from creation.
    pub start_date_time: Option<OffsetDateTime>,
    pub lifetime_in_minutes: u32,
    pub is_usable_once: bool,
    pub first_used_at: Option<OffsetDateTime>,
    pub use_count: u32,
    pub failed_attempts: u32,
    pub locked_at: Option<OffsetDateTime>,
}

/// Graph's `methodUsabilityReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsabilityReason {
    EnabledByPolicy,
    DisabledByPolicy,
    Expired,
    NotYetValid,
    OneTimeUsed,
}

impl UsabilityReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UsabilityReason::EnabledByPolicy => "EnabledByPolicy",
            UsabilityReason::DisabledByPolicy => "DisabledByPolicy",
            UsabilityReason::Expired => "Expired",
            UsabilityReason::NotYetValid => "NotYetValid",
            UsabilityReason::OneTimeUsed => "OneTimeUsed",
        }
    }
}

/// Why a pass is unusable when Graph's reasons say too little. Reported in a namespaced
/// annotation so Graph clients still parse the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsabilityDetail {
    /// Too many wrong attempts.
    LockedOut,
    /// The user's account is disabled.
    AccountDisabled,
    /// The policy is on, but its targets do not include this user.
    NotTargeted,
    /// The policy is off.
    PolicyDisabled,
}

impl UsabilityDetail {
    pub fn as_str(self) -> &'static str {
        match self {
            UsabilityDetail::LockedOut => "LockedOut",
            UsabilityDetail::AccountDisabled => "AccountDisabled",
            UsabilityDetail::NotTargeted => "NotTargeted",
            UsabilityDetail::PolicyDisabled => "PolicyDisabled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usability {
    pub reason: UsabilityReason,
    pub detail: Option<UsabilityDetail>,
}

impl Usability {
    pub fn is_usable(&self) -> bool {
        self.reason == UsabilityReason::EnabledByPolicy
    }

    fn new(reason: UsabilityReason, detail: Option<UsabilityDetail>) -> Self {
        Self { reason, detail }
    }
}

/// The facts about the user and policy that decide usability, gathered by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub policy_enabled: bool,
    pub user_targeted: bool,
    pub account_enabled: bool,
}

impl TapRecord {
    /// When the pass becomes valid: the requested start, else creation.
    pub fn valid_from(&self) -> OffsetDateTime {
        self.start_date_time.unwrap_or(self.created_at)
    }

    pub fn expires_at(&self) -> OffsetDateTime {
        self.valid_from() + Duration::minutes(i64::from(self.lifetime_in_minutes))
    }

    /// The pass's state at `now`. Order matters: the most permanent reason wins, so a used,
    /// expired pass reads `OneTimeUsed` and a locked pass never reads `EnabledByPolicy`.
    pub fn usability(&self, ctx: Context, now: OffsetDateTime) -> Usability {
        use UsabilityDetail as D;
        use UsabilityReason as R;
        if !ctx.policy_enabled {
            return Usability::new(R::DisabledByPolicy, Some(D::PolicyDisabled));
        }
        if !ctx.user_targeted {
            return Usability::new(R::DisabledByPolicy, Some(D::NotTargeted));
        }
        if !ctx.account_enabled {
            return Usability::new(R::DisabledByPolicy, Some(D::AccountDisabled));
        }
        if self.is_usable_once && self.first_used_at.is_some() {
            return Usability::new(R::OneTimeUsed, None);
        }
        if now >= self.expires_at() {
            return Usability::new(R::Expired, None);
        }
        if self.locked_at.is_some() {
            return Usability::new(R::DisabledByPolicy, Some(D::LockedOut));
        }
        if now < self.valid_from() {
            return Usability::new(R::NotYetValid, None);
        }
        Usability::new(R::EnabledByPolicy, None)
    }
}

impl TapRecord {
    /// Whether a bootstrap session opened with this pass may go on at `now`: the pass must
    /// still be usable, except that the one use of a one-time pass is the very sign-in that
    /// opened the session (its registration ending the session is the caller's business).
    pub fn usability_for_its_session(&self, ctx: Context, now: OffsetDateTime) -> Usability {
        let before_its_use = TapRecord {
            first_used_at: None,
            ..self.clone()
        };
        before_its_use.usability(ctx, now)
    }

    /// A stand-in for a pass that does not exist, so that an attempt for an unknown user or a
    /// user without a pass runs the same steps as any other: its write matches no row.
    pub fn absent(now: OffsetDateTime) -> TapRecord {
        TapRecord {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            created_at: now,
            start_date_time: None,
            lifetime_in_minutes: 0,
            is_usable_once: false,
            first_used_at: None,
            use_count: 0,
            failed_attempts: 0,
            locked_at: None,
        }
    }
}

/// The outcome of presenting a code for a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// Sign-in succeeds. `consumed` is true when this use spends a one-time pass.
    Accepted { consumed: bool },
    /// The pass is not usable; the code was not counted as a failure.
    Unusable(Usability),
    /// Wrong code on a usable pass. `locks` is true when this failure reaches the threshold.
    WrongCode { locks: bool },
}

/// Decides a redemption. `code_matches` comes from a constant-time comparison done by the
/// caller; `max_failed_attempts` is the lock-out threshold.
pub fn redeem(
    record: &TapRecord,
    ctx: Context,
    code_matches: bool,
    max_failed_attempts: u32,
    now: OffsetDateTime,
) -> Redemption {
    let usability = record.usability(ctx, now);
    if !usability.is_usable() {
        return Redemption::Unusable(usability);
    }
    if code_matches {
        Redemption::Accepted {
            consumed: record.is_usable_once,
        }
    } else {
        Redemption::WrongCode {
            locks: record.failed_attempts.saturating_add(1) >= max_failed_attempts,
        }
    }
}

impl TapRecord {
    /// The record after `outcome` is applied: what the store writes back.
    pub fn after(&self, outcome: Redemption, now: OffsetDateTime) -> TapRecord {
        let mut next = self.clone();
        match outcome {
            Redemption::Accepted { .. } => {
                next.first_used_at.get_or_insert(now);
                next.use_count = next.use_count.saturating_add(1);
            }
            Redemption::WrongCode { locks } => {
                next.failed_attempts = next.failed_attempts.saturating_add(1);
                if locks {
                    next.locked_at = Some(now);
                }
            }
            Redemption::Unusable(_) => {}
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);
    const OK: Context = Context {
        policy_enabled: true,
        user_targeted: true,
        account_enabled: true,
    };

    fn pass() -> TapRecord {
        TapRecord {
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            created_at: T0,
            start_date_time: None,
            lifetime_in_minutes: 60,
            is_usable_once: false,
            first_used_at: None,
            use_count: 0,
            failed_attempts: 0,
            locked_at: None,
        }
    }

    #[test]
    fn alphabet_has_no_look_alikes_and_no_repeats() {
        for c in b"0Oo1lI" {
            assert!(!ALPHABET.contains(c), "{}", *c as char);
        }
        let mut sorted = ALPHABET.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ALPHABET.len());
        let code = generate(48);
        assert_eq!(code.expose().len(), 48);
        assert!(code.expose().bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(generate(16).expose(), generate(16).expose());
    }

    #[test]
    fn input_normalisation() {
        assert_eq!(normalise_input(" AbCd-EfGh \n"), "AbCdEfGh");
        assert_eq!(normalise_input("ab cd"), "abcd");
    }

    #[test]
    fn usability_table() {
        use UsabilityDetail as D;
        use UsabilityReason as R;
        let m = Duration::minutes;
        let used = TapRecord {
            is_usable_once: true,
            first_used_at: Some(T0),
            use_count: 1,
            ..pass()
        };
        let multi_used = TapRecord {
            first_used_at: Some(T0),
            use_count: 3,
            ..pass()
        };
        let future = TapRecord {
            start_date_time: Some(T0 + m(120)),
            ..pass()
        };
        let locked = TapRecord {
            failed_attempts: 10,
            locked_at: Some(T0),
            ..pass()
        };
        type Case = (
            &'static str,
            TapRecord,
            Context,
            OffsetDateTime,
            R,
            Option<D>,
        );
        let cases: Vec<Case> = vec![
            ("fresh", pass(), OK, T0, R::EnabledByPolicy, None),
            (
                "last minute",
                pass(),
                OK,
                T0 + m(59),
                R::EnabledByPolicy,
                None,
            ),
            ("at expiry", pass(), OK, T0 + m(60), R::Expired, None),
            (
                "one-time used",
                used.clone(),
                OK,
                T0 + m(1),
                R::OneTimeUsed,
                None,
            ),
            (
                "used and expired",
                used,
                OK,
                T0 + m(90),
                R::OneTimeUsed,
                None,
            ),
            (
                "multi-use still usable",
                multi_used,
                OK,
                T0 + m(30),
                R::EnabledByPolicy,
                None,
            ),
            (
                "before start",
                future.clone(),
                OK,
                T0 + m(119),
                R::NotYetValid,
                None,
            ),
            (
                "at start",
                future.clone(),
                OK,
                T0 + m(120),
                R::EnabledByPolicy,
                None,
            ),
            (
                "lifetime counts from start",
                future,
                OK,
                T0 + m(180),
                R::Expired,
                None,
            ),
            (
                "locked",
                locked.clone(),
                OK,
                T0 + m(1),
                R::DisabledByPolicy,
                Some(D::LockedOut),
            ),
            (
                "locked then expired",
                locked,
                OK,
                T0 + m(61),
                R::Expired,
                None,
            ),
            (
                "policy off",
                pass(),
                Context {
                    policy_enabled: false,
                    ..OK
                },
                T0,
                R::DisabledByPolicy,
                Some(D::PolicyDisabled),
            ),
            (
                "not targeted",
                pass(),
                Context {
                    user_targeted: false,
                    ..OK
                },
                T0,
                R::DisabledByPolicy,
                Some(D::NotTargeted),
            ),
            (
                "account disabled",
                pass(),
                Context {
                    account_enabled: false,
                    ..OK
                },
                T0,
                R::DisabledByPolicy,
                Some(D::AccountDisabled),
            ),
        ];
        for (name, record, ctx, now, reason, detail) in cases {
            let u = record.usability(ctx, now);
            assert_eq!((u.reason, u.detail), (reason, detail), "{name}");
            assert_eq!(u.is_usable(), reason == R::EnabledByPolicy, "{name}");
        }
    }

    #[test]
    fn a_session_lives_while_its_pass_would_still_admit_it() {
        let m = Duration::minutes;
        let once = TapRecord {
            is_usable_once: true,
            ..pass()
        };
        let spent = once.after(redeem(&once, OK, true, 10, T0), T0);
        assert!(
            !spent.usability(OK, T0 + m(1)).is_usable(),
            "spent for sign-in"
        );
        assert!(
            spent.usability_for_its_session(OK, T0 + m(1)).is_usable(),
            "but the session its one use opened goes on"
        );
        let expired = spent.usability_for_its_session(OK, T0 + m(60));
        assert_eq!(expired.reason, UsabilityReason::Expired);
        let off = Context {
            policy_enabled: false,
            ..OK
        };
        let targeted_out = Context {
            user_targeted: false,
            ..OK
        };
        for (ctx, detail) in [
            (off, UsabilityDetail::PolicyDisabled),
            (targeted_out, UsabilityDetail::NotTargeted),
        ] {
            let u = spent.usability_for_its_session(ctx, T0 + m(1));
            assert_eq!(u.detail, Some(detail));
        }
        let mut multi = pass();
        multi = multi.after(redeem(&multi, OK, true, 3, T0), T0);
        for _ in 0..3 {
            multi = multi.after(redeem(&multi, OK, false, 3, T0), T0);
        }
        assert_eq!(
            multi.usability_for_its_session(OK, T0 + m(1)).detail,
            Some(UsabilityDetail::LockedOut)
        );
    }

    #[test]
    fn redemption_state_machine() {
        let once = TapRecord {
            is_usable_once: true,
            ..pass()
        };
        let r = redeem(&once, OK, true, 10, T0);
        assert_eq!(r, Redemption::Accepted { consumed: true });
        let spent = once.after(r, T0);
        assert_eq!((spent.use_count, spent.first_used_at), (1, Some(T0)));
        assert!(
            matches!(redeem(&spent, OK, true, 10, T0), Redemption::Unusable(u) if u.reason == UsabilityReason::OneTimeUsed)
        );

        let multi = pass();
        let after_two = multi.after(redeem(&multi, OK, true, 10, T0), T0).after(
            Redemption::Accepted { consumed: false },
            T0 + Duration::minutes(5),
        );
        assert_eq!(
            (after_two.use_count, after_two.first_used_at),
            (2, Some(T0))
        );

        // Wrong codes count up to the threshold, which locks; then even the right code fails.
        let mut p = pass();
        for i in 1..=3 {
            let r = redeem(&p, OK, false, 3, T0);
            assert_eq!(r, Redemption::WrongCode { locks: i == 3 });
            p = p.after(r, T0);
        }
        assert_eq!((p.failed_attempts, p.locked_at), (3, Some(T0)));
        assert!(
            matches!(redeem(&p, OK, true, 3, T0), Redemption::Unusable(u) if u.detail == Some(UsabilityDetail::LockedOut))
        );

        // An unusable pass does not count failures.
        let expired_attempt = redeem(&pass(), OK, false, 3, T0 + Duration::hours(2));
        assert_eq!(pass().after(expired_attempt, T0).failed_attempts, 0);
    }
}
