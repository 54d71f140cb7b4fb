//! Administrative roles, named as in Microsoft Entra.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Passes for users who hold no administrative role; reads users and policy.
    AuthenticationAdministrator,
    /// Passes for anyone, administrators included.
    PrivilegedAuthenticationAdministrator,
    /// The authentication-method policies; no passes.
    AuthenticationPolicyAdministrator,
    /// Creates local users and groups and manages memberships.
    UserAdministrator,
    /// Reads everything an administrator can see. Never a pass value: those exist only in the
    /// response that created them.
    Reader,
    /// Registers applications (OAuth clients) and manages their secrets and redirect URIs.
    /// Granting an application administrative roles of its own is held back, as in Entra, to
    /// the role that may grant roles.
    ApplicationAdministrator,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::AuthenticationAdministrator,
        Role::PrivilegedAuthenticationAdministrator,
        Role::AuthenticationPolicyAdministrator,
        Role::UserAdministrator,
        Role::Reader,
        Role::ApplicationAdministrator,
    ];

    /// The stable identifier used in config, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::AuthenticationAdministrator => "authentication-administrator",
            Role::PrivilegedAuthenticationAdministrator => {
                "privileged-authentication-administrator"
            }
            Role::AuthenticationPolicyAdministrator => "authentication-policy-administrator",
            Role::UserAdministrator => "user-administrator",
            Role::Reader => "reader",
            Role::ApplicationAdministrator => "application-administrator",
        }
    }

    /// The display name Entra uses for the same role.
    pub fn display_name(self) -> &'static str {
        match self {
            Role::AuthenticationAdministrator => "Authentication Administrator",
            Role::PrivilegedAuthenticationAdministrator => {
                "Privileged Authentication Administrator"
            }
            Role::AuthenticationPolicyAdministrator => "Authentication Policy Administrator",
            Role::UserAdministrator => "User Administrator",
            Role::Reader => "Reader",
            Role::ApplicationAdministrator => "Application Administrator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Role::ALL
            .into_iter()
            .find(|r| {
                r.as_str().eq_ignore_ascii_case(wanted)
                    || r.display_name().eq_ignore_ascii_case(wanted)
            })
            .ok_or_else(|| {
                let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!(
                    "unknown role `{wanted}`; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// A set of roles. Empty means an ordinary user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Self(roles.into_iter().collect())
    }

    pub fn all() -> Self {
        Self::new(Role::ALL)
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    /// Comma-separated identifiers, the form stored in the database.
    pub fn to_csv(&self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
    }

    pub fn from_csv(csv: &str) -> Result<Self, String> {
        csv.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Role::from_str)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_csv_and_names() {
        let roles = Roles::all();
        assert_eq!(Roles::from_csv(&roles.to_csv()).unwrap(), roles);
        assert_eq!(
            "Privileged Authentication Administrator"
                .parse::<Role>()
                .unwrap(),
            Role::PrivilegedAuthenticationAdministrator
        );
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("expected one of")
        );
        assert!(Roles::from_csv("").unwrap().is_empty());
    }
}
