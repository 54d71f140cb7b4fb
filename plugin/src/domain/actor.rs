//! Who is asking, and what their roles let them do. Every platform operation starts with one of
//! these checks, so the rules live in one place.

use uuid::Uuid;

use super::directory::User;
use super::role::{Role, Roles};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An API client holding a bearer token.
    ApiToken { id: Uuid, name: String },
    /// Someone at the server's console with access to its database (the CLI).
    Operator,
    /// tapbridge itself, acting on a rule the operator configured (e.g. onboarding).
    Service { name: String },
    /// A signed-in user of the web pages.
    User {
        id: Uuid,
        user_principal_name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub principal: Principal,
    pub roles: Roles,
}

impl Actor {
    /// A background job of the daemon, with the operator's authority and its own name in the
    /// audit log.
    pub fn service(name: &str) -> Self {
        Actor {
            principal: Principal::Service {
                name: name.to_owned(),
            },
            roles: Roles::all(),
        }
    }

    /// The CLI: whoever can run it can read the database and the server secret anyway.
    pub fn operator() -> Self {
        Actor {
            principal: Principal::Operator,
            roles: Roles::all(),
        }
    }

    pub fn display_name(&self) -> String {
        match &self.principal {
            Principal::ApiToken { name, .. } => format!("token:{name}"),
            Principal::Operator => "operator".into(),
            Principal::Service { name } => name.clone(),
            Principal::User {
                user_principal_name,
                ..
            } => user_principal_name.clone(),
        }
    }

    fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.roles.contains(*r))
    }

    /// Reading users, groups, methods (never pass values), policies and the audit log: any role.
    pub fn check_read(&self) -> Result<()> {
        if self.roles.is_empty() {
            return Err(Error::forbidden(
                "this operation requires an administrative role",
            ));
        }
        Ok(())
    }

    pub fn check_manage_policy(&self) -> Result<()> {
        match self.missing_role_to_manage_policy() {
            None => Ok(()),
            Some(_) => Err(Error::forbidden(
                "changing authentication method policies requires the Authentication Policy Administrator role",
            )),
        }
    }

    /// The role this actor lacks to change the authentication method policies; `None` when it
    /// may. Lets a page show what it cannot change, and why, before anyone tries.
    pub fn missing_role_to_manage_policy(&self) -> Option<Role> {
        (!self.has_any(&[Role::AuthenticationPolicyAdministrator]))
            .then_some(Role::AuthenticationPolicyAdministrator)
    }

    pub fn check_manage_directory(&self) -> Result<()> {
        if self.has_any(&[Role::UserAdministrator]) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "creating users and groups requires the User Administrator role",
            ))
        }
    }

    /// Registering and changing applications (OAuth clients) and their secrets.
    pub fn check_manage_applications(&self) -> Result<()> {
        if self.has_any(&[Role::ApplicationAdministrator]) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "managing applications requires the Application Administrator role",
            ))
        }
    }

    /// Giving a user an administrative role. Held back to the role that may act on
    /// administrators' passes, so no lesser role can make itself one.
    pub fn check_grant_roles(&self) -> Result<()> {
        if self.has_any(&[Role::PrivilegedAuthenticationAdministrator]) {
            Ok(())
        } else {
            Err(Error::forbidden(
                "granting administrative roles requires the Privileged Authentication Administrator role",
            ))
        }
    }

    /// Creating or deleting a pass for `target`. As in Entra, an Authentication Administrator
    /// may act only on users without administrative roles.
    pub fn check_manage_passes_for(&self, target: &User) -> Result<()> {
        match self.missing_role_to_manage_passes_for(target) {
            None => Ok(()),
            Some(_) if self.has_any(&[Role::AuthenticationAdministrator]) => Err(Error::forbidden(
                "only a Privileged Authentication Administrator can manage passes of a user who holds an administrative role",
            )),
            Some(_) => Err(Error::forbidden(
                "managing temporary access passes requires the Authentication Administrator or Privileged Authentication Administrator role",
            )),
        }
    }

    /// The least role this actor lacks to manage the passes and passkeys of `target`; `None`
    /// when it may.
    pub fn missing_role_to_manage_passes_for(&self, target: &User) -> Option<Role> {
        if self.has_any(&[Role::PrivilegedAuthenticationAdministrator]) {
            None
        } else if target.is_admin() {
            Some(Role::PrivilegedAuthenticationAdministrator)
        } else if self.has_any(&[Role::AuthenticationAdministrator]) {
            None
        } else {
            Some(Role::AuthenticationAdministrator)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn actor(roles: &[Role]) -> Actor {
        Actor {
            principal: Principal::ApiToken {
                id: Uuid::nil(),
                name: "t".into(),
            },
            roles: Roles::new(roles.iter().copied()),
        }
    }

    fn user(roles: &[Role]) -> User {
        let now = OffsetDateTime::UNIX_EPOCH;
        User {
            id: Uuid::nil(),
            user_principal_name: "u@x.y".into(),
            display_name: None,
            given_name: None,
            surname: None,
            mail: None,
            other_mails: vec![],
            personal_email: None,
            preferred_language: None,
            account_enabled: true,
            source: "local".into(),
            anchor: None,
            manager_id: None,
            employee_hire_date: None,
            roles: Roles::new(roles.iter().copied()),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn role_matrix() {
        use Role::*;
        let plain = user(&[]);
        let admin = user(&[Reader]);
        type Row = (&'static [Role], bool, bool, bool, bool, bool);
        let table: Vec<Row> = vec![
            // roles, read, policy, directory, passes(plain), passes(admin)
            (
                &[ApplicationAdministrator],
                true,
                false,
                false,
                false,
                false,
            ),
            (&[], false, false, false, false, false),
            (&[Reader], true, false, false, false, false),
            (
                &[AuthenticationAdministrator],
                true,
                false,
                false,
                true,
                false,
            ),
            (
                &[PrivilegedAuthenticationAdministrator],
                true,
                false,
                false,
                true,
                true,
            ),
            (
                &[AuthenticationPolicyAdministrator],
                true,
                true,
                false,
                false,
                false,
            ),
            (&[UserAdministrator], true, false, true, false, false),
        ];
        for (roles, read, policy, dir, plain_ok, admin_ok) in table {
            let a = actor(roles);
            assert_eq!(a.check_read().is_ok(), read, "{roles:?} read");
            assert_eq!(a.check_manage_policy().is_ok(), policy, "{roles:?} policy");
            assert_eq!(
                a.check_manage_directory().is_ok(),
                dir,
                "{roles:?} directory"
            );
            assert_eq!(
                a.check_manage_passes_for(&plain).is_ok(),
                plain_ok,
                "{roles:?} plain"
            );
            assert_eq!(
                a.check_manage_passes_for(&admin).is_ok(),
                admin_ok,
                "{roles:?} admin"
            );
        }
        assert!(Actor::operator().check_manage_passes_for(&admin).is_ok());
        assert!(
            actor(&[ApplicationAdministrator])
                .check_manage_applications()
                .is_ok()
        );
        assert!(
            actor(&[ApplicationAdministrator])
                .check_grant_roles()
                .is_err()
        );
        assert!(
            actor(&[UserAdministrator])
                .check_manage_applications()
                .is_err()
        );
    }

    #[test]
    fn missing_roles_are_named() {
        use Role::*;
        let plain = user(&[]);
        let admin = user(&[Reader]);
        assert_eq!(
            actor(&[Reader]).missing_role_to_manage_policy(),
            Some(AuthenticationPolicyAdministrator)
        );
        assert_eq!(
            actor(&[AuthenticationPolicyAdministrator]).missing_role_to_manage_policy(),
            None
        );
        assert_eq!(
            actor(&[Reader]).missing_role_to_manage_passes_for(&plain),
            Some(AuthenticationAdministrator)
        );
        assert_eq!(
            actor(&[Reader]).missing_role_to_manage_passes_for(&admin),
            Some(PrivilegedAuthenticationAdministrator)
        );
        assert_eq!(
            actor(&[AuthenticationAdministrator]).missing_role_to_manage_passes_for(&admin),
            Some(PrivilegedAuthenticationAdministrator)
        );
        assert_eq!(
            actor(&[AuthenticationAdministrator]).missing_role_to_manage_passes_for(&plain),
            None
        );
    }
}
