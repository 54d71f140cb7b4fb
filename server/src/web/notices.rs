//! Success notices after a change: the handler redirects to the page with `?done=<what>` and
//! the page says it in a sentence. Only the fixed codes below are recognised, so nothing a
//! link carries is ever echoed into a page.

use serde::Deserialize;

/// The query string of a page that may show a notice.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    pub done: String,
}

/// What was done, as a redirect's `?done=` and as the notice's catalogue key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    PasskeyAdded,
    PasskeyRenamed,
    PasskeyDeleted,
    PassDeleted,
    UserPasskeyDeleted,
    TapPolicySaved,
    Fido2PolicySaved,
    SignedOut,
}

const ALL: [Notice; 8] = [
    Notice::PasskeyAdded,
    Notice::PasskeyRenamed,
    Notice::PasskeyDeleted,
    Notice::PassDeleted,
    Notice::UserPasskeyDeleted,
    Notice::TapPolicySaved,
    Notice::Fido2PolicySaved,
    Notice::SignedOut,
];

impl Notice {
    pub fn code(self) -> &'static str {
        match self {
            Notice::PasskeyAdded => "passkey-added",
            Notice::PasskeyRenamed => "passkey-renamed",
            Notice::PasskeyDeleted => "passkey-deleted",
            Notice::PassDeleted => "pass-deleted",
            Notice::UserPasskeyDeleted => "user-passkey-deleted",
            Notice::TapPolicySaved => "tap-policy-saved",
            Notice::Fido2PolicySaved => "fido2-policy-saved",
            Notice::SignedOut => "signed-out",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Notice::PasskeyAdded => "notice_passkey_added",
            Notice::PasskeyRenamed => "notice_passkey_renamed",
            Notice::PasskeyDeleted => "notice_passkey_deleted",
            Notice::PassDeleted => "notice_pass_deleted",
            Notice::UserPasskeyDeleted => "notice_user_passkey_deleted",
            Notice::TapPolicySaved => "notice_tap_policy_saved",
            Notice::Fido2PolicySaved => "notice_fido2_policy_saved",
            Notice::SignedOut => "notice_signed_out",
        }
    }

    /// `path?done=code`.
    pub fn after(self, path: &str) -> String {
        format!("{path}?done={}", self.code())
    }
}

impl Done {
    /// The notice this query names, if it is one of ours and fits the page (`allowed`).
    pub fn notice(&self, allowed: &[Notice]) -> Option<Notice> {
        ALL.into_iter()
            .find(|n| n.code() == self.done)
            .filter(|n| allowed.contains(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_strangers_are_ignored() {
        for n in ALL {
            let done = Done {
                done: n.code().into(),
            };
            assert_eq!(done.notice(&ALL), Some(n));
            assert_eq!(done.notice(&[]), None);
        }
        let odd = Done {
            done: "<script>".into(),
        };
        assert_eq!(odd.notice(&ALL), None);
    }
}
