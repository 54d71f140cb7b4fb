//! Scopes: the OpenID Connect ones tapbridge knows. Unknown scopes are dropped, as OpenID
//! Connect Core §5.4 allows; `openid` is required for a user sign-in.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    OpenId,
    Profile,
    Email,
    /// Opt-in: the user's group ids in the `groups` claim.
    Groups,
    /// A refresh token.
    OfflineAccess,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::OpenId,
        Scope::Profile,
        Scope::Email,
        Scope::Groups,
        Scope::OfflineAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Profile => "profile",
            Scope::Email => "email",
            Scope::Groups => "groups",
            Scope::OfflineAccess => "offline_access",
        }
    }
}

/// A set of known scopes, kept sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", from = "String")]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses a space-separated list, dropping unknown scopes.
    pub fn parse(s: &str) -> Scopes {
        let mut v: Vec<Scope> = s
            .split(' ')
            .filter_map(|w| Scope::ALL.into_iter().find(|k| k.as_str() == w))
            .collect();
        v.sort();
        v.dedup();
        Scopes(v)
    }

    pub fn contains(&self, s: Scope) -> bool {
        self.0.contains(&s)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Whether every scope of `other` is in this set.
    pub fn covers(&self, other: &Scopes) -> bool {
        other.iter().all(|s| self.contains(s))
    }

    pub fn union(&self, other: &Scopes) -> Scopes {
        let mut v = self.0.clone();
        v.extend(other.iter());
        v.sort();
        v.dedup();
        Scopes(v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&words.join(" "))
    }
}

impl From<Scopes> for String {
    fn from(s: Scopes) -> String {
        s.to_string()
    }
}

impl From<String> for Scopes {
    fn from(s: String) -> Scopes {
        Scopes::parse(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scopes_are_dropped_and_order_does_not_matter() {
        let s = Scopes::parse("profile openid https://graph.microsoft.com/.default openid");
        assert_eq!(s.to_string(), "openid profile");
        assert!(s.covers(&Scopes::parse("openid")));
        assert!(!s.covers(&Scopes::parse("openid email")));
        assert_eq!(Scopes::parse("").to_string(), "");
    }
}
