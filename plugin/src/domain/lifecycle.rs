//! Joiners, movers and leavers: what a directory change means for a person's access.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A person appeared (created by a bridge, or enabled after being disabled).
    Joiner,
    /// A person's name, mail or groups changed.
    Mover,
    /// A person was disabled or deleted: passes and sessions are revoked at once.
    Leaver,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Joiner => "joiner",
            EventKind::Mover => "mover",
            EventKind::Leaver => "leaver",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "joiner" => Ok(EventKind::Joiner),
            "mover" => Ok(EventKind::Mover),
            "leaver" => Ok(EventKind::Leaver),
            other => Err(format!("unknown event kind `{other}`")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryEvent {
    pub seq: i64,
    pub kind: EventKind,
    pub user_id: Uuid,
    pub user_principal_name: String,
    pub source: String,
    pub at: OffsetDateTime,
    pub detail: serde_json::Value,
    pub consumed_at: Option<OffsetDateTime>,
}

/// What an update of a user means, from the account-enabled flag before and after.
pub fn classify_update(was_enabled: bool, is_enabled: bool) -> EventKind {
    match (was_enabled, is_enabled) {
        (true, false) => EventKind::Leaver,
        (false, true) => EventKind::Joiner,
        _ => EventKind::Mover,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_classification() {
        assert_eq!(classify_update(true, false), EventKind::Leaver);
        assert_eq!(classify_update(false, true), EventKind::Joiner);
        assert_eq!(classify_update(true, true), EventKind::Mover);
        assert_eq!(classify_update(false, false), EventKind::Mover);
        for k in [EventKind::Joiner, EventKind::Mover, EventKind::Leaver] {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
        }
    }
}
