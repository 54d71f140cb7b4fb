//! Browser sessions: what kind a session is and when it ends. Pure rules; the store keeps the
//! rows and the platform decides when to open one.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// What a session may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// Opened with a Temporary Access Pass: may only register a passkey.
    Bootstrap,
    /// Opened with a passkey: the user's own pages, and admin pages if they hold a role.
    Full,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Bootstrap => "bootstrap",
            SessionKind::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bootstrap" => Some(SessionKind::Bootstrap),
            "full" => Some(SessionKind::Full),
            _ => None,
        }
    }
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A full session ends this long after it opened, however active.
    pub absolute: Duration,
    /// A bootstrap session ends this long after it opened (or when its pass expires, if
    /// sooner): long enough to register a passkey, short enough that a pass is no login.
    pub bootstrap_window: Duration,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        SessionTimeouts {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
            bootstrap_window: Duration::minutes(15),
        }
    }
}

/// The pass a bootstrap session is opened with. The session is bound to it: it never outlives
/// the pass, and ends when the pass is deleted, replaced, locked or otherwise stops being
/// usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningPass {
    pub id: Uuid,
    pub expires_at: OffsetDateTime,
}

/// A stored session (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The public half of the cookie: a random lookup key, not a secret.
    pub id: String,
    pub user_id: Uuid,
    pub kind: SessionKind,
    /// The pass a bootstrap session was opened with; `None` for a full session.
    pub tap_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub idle_expires_at: OffsetDateTime,
    pub absolute_expires_at: OffsetDateTime,
}

/// How often a session's idle deadline is pushed forward: not on every request, so a page
/// view does not always cost a database write.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

impl Session {
    /// A new session's deadlines. A bootstrap session never outlives its pass.
    pub fn open(
        id: String,
        user_id: Uuid,
        kind: SessionKind,
        timeouts: &SessionTimeouts,
        pass: Option<OpeningPass>,
        now: OffsetDateTime,
    ) -> Session {
        let absolute = match kind {
            SessionKind::Full => now + timeouts.absolute,
            SessionKind::Bootstrap => {
                let window = now + timeouts.bootstrap_window;
                pass.map_or(window, |p| p.expires_at.min(window))
            }
        };
        Session {
            id,
            user_id,
            kind,
            tap_id: match kind {
                SessionKind::Bootstrap => pass.map(|p| p.id),
                SessionKind::Full => None,
            },
            created_at: now,
            last_seen_at: now,
            idle_expires_at: (now + timeouts.idle).min(absolute),
            absolute_expires_at: absolute,
        }
    }

    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        now < self.idle_expires_at && now < self.absolute_expires_at
    }

    /// The session after a request at `now`, or `None` if nothing needs writing yet.
    pub fn touched(&self, timeouts: &SessionTimeouts, now: OffsetDateTime) -> Option<Session> {
        if now - self.last_seen_at < TOUCH_INTERVAL {
            return None;
        }
        Some(Session {
            last_seen_at: now,
            idle_expires_at: (now + timeouts.idle).min(self.absolute_expires_at),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn open(kind: SessionKind, pass_expires_at: Option<OffsetDateTime>) -> Session {
        Session::open(
            "s".into(),
            Uuid::nil(),
            kind,
            &SessionTimeouts::default(),
            pass_expires_at.map(|expires_at| OpeningPass {
                id: Uuid::max(),
                expires_at,
            }),
            NOW,
        )
    }

    #[test]
    fn a_bootstrap_session_ends_at_the_window_or_the_pass_whichever_first() {
        let long_pass = open(SessionKind::Bootstrap, Some(NOW + Duration::hours(8)));
        assert_eq!(long_pass.absolute_expires_at, NOW + Duration::minutes(15));
        let short_pass = open(SessionKind::Bootstrap, Some(NOW + Duration::minutes(5)));
        assert_eq!(short_pass.absolute_expires_at, NOW + Duration::minutes(5));
        assert_eq!(short_pass.idle_expires_at, NOW + Duration::minutes(5));
        assert!(short_pass.is_live(NOW + Duration::minutes(4)));
        assert!(!short_pass.is_live(NOW + Duration::minutes(5)));
        assert_eq!(short_pass.tap_id, Some(Uuid::max()), "bound to its pass");
        assert_eq!(open(SessionKind::Full, Some(NOW)).tap_id, None);
    }

    #[test]
    fn a_full_session_ends_when_idle_or_at_its_absolute_limit() {
        let t = SessionTimeouts::default();
        let s = open(SessionKind::Full, None);
        assert!(!s.is_live(NOW + Duration::minutes(30)));
        assert!(s.touched(&t, NOW + Duration::seconds(30)).is_none());
        let mut s = s;
        for m in (20..=11 * 60).step_by(20) {
            s = s.touched(&t, NOW + Duration::minutes(m)).expect("touch");
            assert!(s.is_live(NOW + Duration::minutes(m) + Duration::minutes(1)));
        }
        let late = s
            .touched(&t, NOW + Duration::minutes(11 * 60 + 50))
            .expect("touch");
        assert_eq!(late.idle_expires_at, NOW + Duration::hours(12));
        assert!(!late.is_live(NOW + Duration::hours(12)));
    }

    #[test]
    fn kinds_round_trip() {
        for k in [SessionKind::Bootstrap, SessionKind::Full] {
            assert_eq!(SessionKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(SessionKind::parse("admin"), None);
    }
}
