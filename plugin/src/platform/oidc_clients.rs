//! Applications (OAuth clients): registration, changes and secrets. Application
//! Administrators manage them; giving an application administrative roles of its own, or
//! touching the credentials of one that holds such roles, needs the role that grants roles —
//! otherwise an Application Administrator could mint themselves an administrator by adding a
//! secret to a privileged application.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Caller, Platform};
use crate::domain::audit::{Activity, AuditRecord};
use crate::domain::oidc::client::{
    self, Application, ApplicationPatch, NewApplication, PasswordCredential,
};
use crate::secret::{SecretString, random_string};
use crate::store::{audit, oidc_clients, oidc_flows, oidc_grants};
use crate::{Error, Result};

/// Characters of a client secret: RFC 3986's unreserved set, so the value needs no escaping
/// in a form body or a Basic header.
const SECRET_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
/// 40 characters over 66 symbols: 241 bits.
const SECRET_LEN: usize = 40;

/// A secret just added: its metadata and the only copy of its value.
#[derive(Debug)]
pub struct AddedPassword {
    pub credential: PasswordCredential,
    pub secret_text: SecretString,
}

fn check_credentials_of(caller: &Caller, app: &Application) -> Result<()> {
    if app.app_roles.is_empty() {
        Ok(())
    } else {
        caller.actor.check_grant_roles().map_err(|_| {
            Error::forbidden(
                "this application holds administrative roles: changing its credentials requires the Privileged Authentication Administrator role",
            )
        })
    }
}

fn record(
    activity: Activity,
    caller: &Caller,
    app: &Application,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord::new(activity, (&caller.actor).into(), now)
        .target("Application", app.id, Some(&app.display_name))
        .detail("appId", app.app_id)
        .correlation(caller.correlation_id)
}

impl Platform {
    /// Application Administrator; roles for the application itself need the role-granting role.
    pub async fn create_application(
        &self,
        caller: &Caller,
        new: NewApplication,
    ) -> Result<Application> {
        caller.actor.check_manage_applications()?;
        if !new.app_roles.is_empty() {
            caller.actor.check_grant_roles()?;
        }
        let now = self.now();
        let app = Application::create(new, now)?;
        let mut tx = self.store.write().await?;
        oidc_clients::insert(&mut tx, &app).await?;
        let rec = record(Activity::ApplicationAdded, caller, &app, now)
            .detail("appRoles", app.app_roles.to_csv());
        audit::insert(&mut tx, &rec).await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Any administrative role. Ordered by display name; `after` is the last one's
    /// `(displayName, id)`.
    pub async fn applications(
        &self,
        caller: &Caller,
        after: Option<(String, String)>,
        limit: u32,
    ) -> Result<Vec<Application>> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        oidc_clients::list(
            &mut conn,
            after.as_ref().map(|(n, i)| (n.as_str(), i.as_str())),
            limit,
        )
        .await
    }

    /// By object id or client id — any administrative role.
    pub async fn application(&self, caller: &Caller, id: Uuid) -> Result<Application> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        oidc_clients::get(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("application `{id}`")))
    }

    pub async fn update_application(
        &self,
        caller: &Caller,
        id: Uuid,
        patch: ApplicationPatch,
    ) -> Result<Application> {
        caller.actor.check_manage_applications()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let before = oidc_clients::get(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("application `{id}`")))?;
        let roles_change = patch
            .app_roles
            .as_ref()
            .is_some_and(|r| *r != before.app_roles);
        if roles_change {
            caller.actor.check_grant_roles()?;
        }
        if patch.jwks.is_some() {
            check_credentials_of(caller, &before)?;
        }
        let after = before.patched(patch, now)?;
        oidc_clients::update(&mut tx, &after).await?;
        let mut rec = record(Activity::ApplicationUpdated, caller, &after, now);
        if roles_change {
            rec = rec
                .detail("oldAppRoles", before.app_roles.to_csv())
                .detail("newAppRoles", after.app_roles.to_csv());
        }
        audit::insert(&mut tx, &rec).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the application, its secrets, and every grant and token it holds.
    pub async fn delete_application(&self, caller: &Caller, id: Uuid) -> Result<Application> {
        caller.actor.check_manage_applications()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let app = oidc_clients::get(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("application `{id}`")))?;
        check_credentials_of(caller, &app)?;
        oidc_clients::delete(&mut tx, app.id).await?;
        oidc_flows::delete_for_client(&mut tx, app.app_id).await?;
        oidc_grants::delete_for_client(&mut tx, app.app_id).await?;
        audit::insert(
            &mut tx,
            &record(Activity::ApplicationDeleted, caller, &app, now),
        )
        .await?;
        tx.commit().await?;
        Ok(app)
    }

    /// Graph `addPassword`: a new secret, shown once. `end` defaults to two years ahead.
    pub async fn add_application_password(
        &self,
        caller: &Caller,
        id: Uuid,
        display_name: Option<String>,
        end: Option<OffsetDateTime>,
    ) -> Result<(Application, AddedPassword)> {
        caller.actor.check_manage_applications()?;
        let now = self.now();
        let end = end.unwrap_or(now + client::DEFAULT_SECRET_LIFETIME);
        if end <= now || end > now + client::MAX_SECRET_LIFETIME {
            return Err(Error::invalid(
                "endDateTime must be in the future and at most ten years ahead",
            ));
        }
        let display_name = display_name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if display_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > 256 || n.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                "displayName must be at most 256 printable characters",
            ));
        }
        let mut tx = self.store.write().await?;
        let mut app = oidc_clients::get(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("application `{id}`")))?;
        check_credentials_of(caller, &app)?;
        let secret_text = random_string(SECRET_ALPHABET, SECRET_LEN);
        let credential = PasswordCredential {
            key_id: Uuid::new_v4(),
            display_name,
            hint: secret_text.expose().chars().take(3).collect(),
            start: now,
            end,
        };
        let hash = self.client_secret_hasher.hash(
            credential.key_id.as_bytes(),
            secret_text.expose().as_bytes(),
        );
        oidc_clients::insert_password(&mut tx, app.id, &credential, &hash).await?;
        let rec = record(Activity::ApplicationSecretAdded, caller, &app, now)
            .detail("keyId", credential.key_id);
        audit::insert(&mut tx, &rec).await?;
        tx.commit().await?;
        app.passwords.push(credential.clone());
        Ok((
            app,
            AddedPassword {
                credential,
                secret_text,
            },
        ))
    }

    /// Graph `removePassword`.
    pub async fn remove_application_password(
        &self,
        caller: &Caller,
        id: Uuid,
        key_id: Uuid,
    ) -> Result<()> {
        caller.actor.check_manage_applications()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let app = oidc_clients::get(&mut tx, id)
            .await?
            .ok_or_else(|| Error::not_found(format!("application `{id}`")))?;
        check_credentials_of(caller, &app)?;
        if !oidc_clients::delete_password(&mut tx, app.id, key_id).await? {
            return Err(Error::not_found(format!("passwordCredential `{key_id}`")));
        }
        let rec =
            record(Activity::ApplicationSecretRemoved, caller, &app, now).detail("keyId", key_id);
        audit::insert(&mut tx, &rec).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a presented client secret against the application's live secrets, in constant
    /// time each. `false` for any mismatch.
    pub(crate) async fn verify_client_secret(
        &self,
        app: &Application,
        presented: &SecretString,
    ) -> Result<bool> {
        let now = self.now();
        let mut conn = self.store.read().await?;
        let stored = oidc_clients::password_hashes(&mut conn, app.id).await?;
        let mut ok = false;
        for (credential, hash) in &stored {
            // Every stored hash is compared, live or not, so the time taken does not tell
            // which one matched.
            let matches = self.client_secret_hasher.verify(
                credential.key_id.as_bytes(),
                presented.expose().as_bytes(),
                hash,
            );
            ok |= matches && credential.is_live(now);
        }
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::fixture;
    use super::*;
    use crate::domain::actor::{Actor, Principal};
    use crate::domain::role::{Role, Roles};

    fn as_role(roles: &[Role]) -> Caller {
        Caller::new(
            Actor {
                principal: Principal::ApiToken {
                    id: Uuid::nil(),
                    name: "t".into(),
                },
                roles: Roles::new(roles.iter().copied()),
            },
            None,
        )
    }

    fn new_app(name: &str) -> NewApplication {
        NewApplication {
            display_name: name.into(),
            web_redirect_uris: vec!["https://app.example.com/cb".into()],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn secrets_are_shown_once_stored_hashed_and_verified() {
        let f = fixture().await;
        let p = &f.platform;
        let admin = as_role(&[Role::ApplicationAdministrator]);
        let app = p.create_application(&admin, new_app("CRM")).await.unwrap();
        let (_, added) = p
            .add_application_password(&admin, app.id, Some("ci".into()), None)
            .await
            .unwrap();
        let secret = added.secret_text.expose().to_owned();
        assert_eq!(secret.len(), SECRET_LEN);
        assert_eq!(added.credential.hint, secret[..3]);
        let app = p.application(&admin, app.app_id).await.unwrap();
        assert_eq!(app.passwords.len(), 1);
        assert!(
            p.verify_client_secret(&app, &added.secret_text)
                .await
                .unwrap()
        );
        let mut wrong = secret.clone().into_bytes();
        wrong[10] = if wrong[10] == b'a' { b'b' } else { b'a' };
        let wrong = SecretString::new(String::from_utf8(wrong).unwrap());
        assert!(!p.verify_client_secret(&app, &wrong).await.unwrap());

        // The value is in no database file; only its keyed hash is (the scan can see what is
        // stored: the application's name).
        let files: Vec<Vec<u8>> = f
            ._dir
            .files()
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .collect();
        let stored = |needle: &str| {
            files
                .iter()
                .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        };
        assert!(stored("CRM"), "database scan works");
        assert!(!stored(&secret), "secret found in the database files");

        // Expired secrets do not verify; removed ones are gone.
        f.clock.advance(client::DEFAULT_SECRET_LIFETIME);
        assert!(
            !p.verify_client_secret(&app, &added.secret_text)
                .await
                .unwrap()
        );
        p.remove_application_password(&admin, app.id, added.credential.key_id)
            .await
            .unwrap();
        assert!(matches!(
            p.remove_application_password(&admin, app.id, added.credential.key_id)
                .await,
            Err(Error::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn only_role_granting_administrators_give_applications_roles_or_touch_their_keys() {
        let f = fixture().await;
        let p = &f.platform;
        let app_admin = as_role(&[Role::ApplicationAdministrator]);
        let both = as_role(&[
            Role::ApplicationAdministrator,
            Role::PrivilegedAuthenticationAdministrator,
        ]);
        let mut privileged = new_app("Automation");
        privileged.app_roles = Roles::new([Role::UserAdministrator]);
        assert!(matches!(
            p.create_application(&app_admin, privileged.clone()).await,
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            p.create_application(&as_role(&[Role::UserAdministrator]), new_app("x"))
                .await,
            Err(Error::Forbidden(_))
        ));
        let app = p.create_application(&both, privileged).await.unwrap();
        // An Application Administrator may rename it, not arm it with a secret.
        p.update_application(
            &app_admin,
            app.id,
            ApplicationPatch {
                display_name: Some("Automation 2".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(matches!(
            p.add_application_password(&app_admin, app.id, None, None)
                .await,
            Err(Error::Forbidden(_))
        ));
        assert!(matches!(
            p.update_application(
                &app_admin,
                app.id,
                ApplicationPatch {
                    app_roles: Some(Roles::all()),
                    ..Default::default()
                },
            )
            .await,
            Err(Error::Forbidden(_))
        ));
        p.add_application_password(&both, app.id, None, None)
            .await
            .unwrap();
        // Bad input changes nothing.
        assert!(matches!(
            p.update_application(
                &both,
                app.id,
                ApplicationPatch {
                    web_redirect_uris: Some(vec!["http://evil.example/cb".into()]),
                    ..Default::default()
                },
            )
            .await,
            Err(Error::InvalidInput(_))
        ));
        let now = p.application(&both, app.id).await.unwrap();
        assert_eq!(now.display_name, "Automation 2");
        assert_eq!(
            now.web_redirect_uris,
            vec!["https://app.example.com/cb".to_owned()]
        );
        assert_eq!(now.passwords.len(), 1);
        p.delete_application(&both, app.id).await.unwrap();
        assert!(matches!(
            p.application(&both, app.id).await,
            Err(Error::NotFound(_))
        ));
    }
}
