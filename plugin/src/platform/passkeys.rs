//! Passkeys: registration and sign-in ceremonies (WebAuthn), the user's own methods, the
//! administrators' view of them and the FIDO2 policy.
//!
//! Ceremony state stays on the server, keyed by a random id and taken out of the store before
//! the browser's answer is verified, so each can be used once. Registrations require a
//! discoverable credential and user verification; sign-ins ask for a discoverable credential
//! and find the user by the random user handle it returns.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AttestationCaList, AttestedPasskeyRegistration, CreationChallengeResponse,
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs_proto::{
    AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy,
};

use super::sessions::{OpenedSession, SignedIn};
use super::{Caller, Platform};
use crate::domain::audit::{Activity, AuditRecord, Initiator};
use crate::domain::directory::{User, UserRef};
use crate::domain::fido2_policy::{self, Fido2Policy, Fido2PolicyPatch};
use crate::domain::oidc::authn::Authentication;
use crate::domain::session::{SessionKind, SessionTimeouts};
use crate::domain::tap::{Context, TapRecord, Usability};
use crate::domain::tap_policy::PolicyState;
use crate::domain::webauthn::{
    AttestationLevel, CEREMONY_TTL, CeremonyKind, NOT_VERIFIED, PasskeyMethod, passkey_name,
};
use crate::secret::{KeyedHasher, Purpose, Sealer, ServerSecret, random_bytes};
use crate::store::{
    Connection, audit, ceremonies, credentials, oidc_sessions, policies, sessions, taps, users,
};
use crate::{Error, Result};

/// What the passwordless side needs besides the platform.
#[derive(Debug, Clone, Default)]
pub struct PasswordlessSettings {
    pub timeouts: SessionTimeouts,
    /// Roots that make an attestation trusted. `None`: no authenticator counts as attested,
    /// so a policy that enforces attestation admits none.
    pub attestation_cas: Option<AttestationCaList>,
}

/// The browser-facing service: sessions and passkey ceremonies over the platform's store.
pub struct Passwordless {
    pub(super) platform: Arc<Platform>,
    pub(super) webauthn: Webauthn,
    pub(super) session_hasher: KeyedHasher,
    pub(super) pass_sealer: Sealer,
    pub(super) settings: PasswordlessSettings,
}

/// Builds the WebAuthn verifier for relying party `rp_id`, accepting the given origins. Errors
/// name what is wrong (an origin that is not https or localhost, or outside `rp_id`).
pub fn verifier(rp_id: &str, rp_name: &str, origins: &[String]) -> Result<Webauthn, String> {
    let mut urls = Vec::new();
    for o in origins {
        let url = Url::parse(o).map_err(|e| format!("origin `{o}` is not a URL: {e}"))?;
        let local = matches!(url.host_str(), Some("localhost"));
        if url.scheme() != "https" && !(url.scheme() == "http" && local) {
            return Err(format!(
                "origin `{o}` must be https (plain http is allowed for localhost only)"
            ));
        }
        if url.path() != "/" || url.query().is_some() {
            return Err(format!("origin `{o}` must not have a path"));
        }
        urls.push(url);
    }
    let Some((first, rest)) = urls.split_first() else {
        return Err("at least one allowed origin is needed".into());
    };
    let mut builder = WebauthnBuilder::new(rp_id, first)
        .map_err(|e| format!("relying party id `{rp_id}` does not fit origin `{first}`: {e}"))?
        .rp_name(rp_name);
    for url in rest {
        builder = builder.append_allowed_origin(url);
    }
    builder
        .build()
        .map_err(|e| format!("relying party `{rp_id}`: {e}"))
}

/// A registration in flight: the verifier's state, plain or attested.
#[derive(Serialize, Deserialize)]
enum RegistrationState {
    Passkey(PasskeyRegistration),
    Attested(AttestedPasskeyRegistration),
}

/// The user's own methods, for "Security info".
#[derive(Debug, Clone)]
pub struct SecurityInfo {
    pub passkeys: Vec<PasskeyMethod>,
    pub tap: Option<(TapRecord, Usability)>,
}

/// Why a sign-in failed, for the audit log: who the answer claimed to be (when known), the
/// reason, and the policy refusal if that was it.
struct SignInFailure {
    who: Option<User>,
    why: String,
    refusal: Option<fido2_policy::Refusal>,
}

impl From<(Option<User>, String)> for SignInFailure {
    fn from((who, why): (Option<User>, String)) -> Self {
        SignInFailure {
            who,
            why,
            refusal: None,
        }
    }
}

/// A passkey just registered, and whether the session that registered it ended with it.
#[derive(Debug, Clone)]
pub struct Registered {
    pub method: PasskeyMethod,
    /// True when a one-time pass's bootstrap session has spent its pass: the browser must
    /// sign in with the new passkey.
    pub session_ended: bool,
}

/// A request of a session that ended meanwhile.
fn session_ended() -> Error {
    Error::forbidden("Your session has ended. Sign in again.")
}

/// What the authenticator reported about a verified sign-in.
struct Evidence {
    backup_eligible: bool,
    user_verified: bool,
}

/// A sign-in or registration answer that does not verify. Deliberately vague: the reason
/// goes to the audit log.
fn rejected() -> Error {
    Error::invalid(NOT_VERIFIED)
}

fn user_initiator(user: &User) -> Initiator {
    Initiator {
        kind: "user".into(),
        id: Some(user.id.to_string()),
        display_name: user.user_principal_name.clone(),
    }
}

/// The AAGUID in a registration's authenticator data: after the RP id hash (32 bytes), flags
/// (1) and counter (4). `None` if the attestation object does not parse.
fn aaguid_of(reg: &RegisterPublicKeyCredential) -> Option<Uuid> {
    let value: serde_cbor_2::Value =
        serde_cbor_2::from_slice(&reg.response.attestation_object).ok()?;
    let serde_cbor_2::Value::Map(map) = value else {
        return None;
    };
    let auth_data = map.iter().find_map(|(k, v)| match (k, v) {
        (serde_cbor_2::Value::Text(k), serde_cbor_2::Value::Bytes(b)) if k == "authData" => Some(b),
        _ => None,
    })?;
    let bytes: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    Some(Uuid::from_bytes(bytes))
}

/// The attestation chain of a verified credential as base64 DER, leaf first.
fn attestation_certificates(passkey: &Passkey) -> Vec<String> {
    let credential: webauthn_rs::prelude::Credential = passkey.clone().into();
    // The parsed attestation serialises its chain as base64url DER inside a one-key object
    // naming the attestation type; re-encode as standard base64 as Graph shows it.
    let Ok(serde_json::Value::Object(data)) = serde_json::to_value(&credential.attestation.data)
    else {
        return vec![];
    };
    data.values()
        .filter_map(|v| v.as_array())
        .flatten()
        .filter_map(|c| c.as_str())
        .filter_map(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .map(|der| STANDARD.encode(der))
        .collect()
}

impl Passwordless {
    pub fn new(
        platform: Arc<Platform>,
        webauthn: Webauthn,
        secret: &ServerSecret,
        settings: PasswordlessSettings,
    ) -> Self {
        Passwordless {
            platform,
            webauthn,
            session_hasher: secret.hasher(Purpose::Session),
            pass_sealer: secret.sealer(Purpose::PassHandover),
            settings,
        }
    }

    pub fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }

    /// Whether any attestation root is configured: without one, a policy that enforces
    /// attestation admits no authenticator.
    pub fn has_attestation_roots(&self) -> bool {
        self.settings.attestation_cas.is_some()
    }

    async fn policy(&self, conn: &mut Connection) -> Result<Fido2Policy> {
        Ok(policies::get(conn, fido2_policy::POLICY_ID)
            .await?
            .unwrap_or_default())
    }

    /// The user's handle, made on first use: 16 random bytes, unrelated to the user's id.
    async fn user_handle(&self, conn: &mut Connection, user_id: Uuid) -> Result<Uuid> {
        if let Some(h) = credentials::user_handle(conn, user_id).await? {
            return Uuid::from_slice(&h).map_err(|_| Error::Internal("corrupt user handle".into()));
        }
        let handle = Uuid::from_bytes(random_bytes::<16>());
        credentials::insert_user_handle(conn, user_id, handle.as_bytes()).await?;
        Ok(handle)
    }

    /// Starts registering a passkey for the signed-in user. Returns the ceremony id and the
    /// options for `navigator.credentials.create`.
    pub async fn start_registration(
        &self,
        signed_in: &SignedIn,
    ) -> Result<(String, CreationChallengeResponse)> {
        let user = &signed_in.user;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let policy = self.policy(&mut tx).await?;
        policy
            .check_enabled()
            .map_err(|r| Error::PolicyViolation(r.message().into()))?;
        if !policy.is_self_service_registration_allowed {
            return Err(Error::PolicyViolation(
                fido2_policy::Refusal::SelfServiceNotAllowed
                    .message()
                    .into(),
            ));
        }
        let handle = self.user_handle(&mut tx, user.id).await?;
        let exclude = credentials::credential_ids_for_user(&mut tx, user.id).await?;
        let display = user
            .display_name
            .as_deref()
            .unwrap_or(&user.user_principal_name);
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (mut options, state) = if policy.is_attestation_enforced {
            let Some(cas) = self.settings.attestation_cas.clone() else {
                return Err(Error::PolicyViolation(
                    fido2_policy::Refusal::AttestationRequired.message().into(),
                ));
            };
            let (o, s) = self
                .webauthn
                .start_attested_passkey_registration(
                    handle,
                    &user.user_principal_name,
                    display,
                    exclude,
                    cas,
                    None,
                )
                .map_err(|e| Error::Internal(format!("registration options: {e}")))?;
            (o, RegistrationState::Attested(s))
        } else {
            let (o, s) = self
                .webauthn
                .start_passkey_registration(handle, &user.user_principal_name, display, exclude)
                .map_err(|e| Error::Internal(format!("registration options: {e}")))?;
            (o, RegistrationState::Passkey(s))
        };
        // A passkey must be discoverable (sign-in without typing a name) and verify the user.
        let selection = options.public_key.authenticator_selection.get_or_insert(
            AuthenticatorSelectionCriteria {
                authenticator_attachment: None,
                resident_key: None,
                require_resident_key: true,
                user_verification: UserVerificationPolicy::Required,
            },
        );
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
        selection.user_verification = UserVerificationPolicy::Required;
        let id = URL_SAFE_NO_PAD.encode(random_bytes::<24>());
        let state = serde_json::to_string(&state).map_err(|e| Error::Internal(e.to_string()))?;
        ceremonies::purge_expired(&mut tx, now).await?;
        ceremonies::insert(
            &mut tx,
            &id,
            CeremonyKind::Registration,
            Some(&signed_in.session.id),
            Some(user.id),
            &state,
            now + CEREMONY_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok((id, options))
    }

    /// Verifies the browser's answer and stores the passkey under `name` (empty: the model's
    /// name). Audited either way. The session must still exist when the passkey is written
    /// (a pass deleted while the browser was busy ends it). A bootstrap session opened with a
    /// one-time pass ends with the registration: the pass's one use is spent.
    #[instrument(skip_all)]
    pub async fn finish_registration(
        &self,
        signed_in: &SignedIn,
        ceremony_id: &str,
        answer: &RegisterPublicKeyCredential,
        name: &str,
        correlation_id: Option<Uuid>,
    ) -> Result<Registered> {
        let user = &signed_in.user;
        // A bad name is the user's to fix: refuse it before the ceremony is spent.
        passkey_name(name, "passkey")?;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        // Checked under the write lock: whatever ended the session has committed, or waits.
        if !sessions::exists(&mut tx, &signed_in.session.id).await? {
            return Err(session_ended());
        }
        let taken = ceremonies::take(&mut tx, ceremony_id, CeremonyKind::Registration, now).await?;
        // The ceremony is gone from here on: commit its removal whatever the outcome.
        let outcome = self
            .verify_registration(&mut tx, signed_in, taken, answer, name, now)
            .await;
        let base = |activity| {
            AuditRecord::new(activity, user_initiator(user), now)
                .target("User", user.id, Some(&user.user_principal_name))
                .correlation(correlation_id)
        };
        let mut session_ended = false;
        match &outcome {
            Ok(method) => {
                let record = base(Activity::PasskeyRegistered)
                    .detail("fido2AuthenticationMethodId", method.id)
                    .detail("aaGuid", method.aaguid)
                    .detail("attestationLevel", method.attestation_level.as_str())
                    .detail("sessionKind", signed_in.session.kind.as_str());
                audit::insert(&mut tx, &record).await?;
                session_ended = self
                    .end_if_one_time(&mut tx, signed_in, correlation_id, now)
                    .await?;
            }
            Err(e) => {
                audit::insert(
                    &mut tx,
                    &base(Activity::PasskeyRegistrationFailed).failed(e.to_string()),
                )
                .await?;
            }
        }
        tx.commit().await?;
        // Policy refusals and server faults are told as they are; a failed verification only
        // vaguely (its reason is in the audit log).
        outcome
            .map(|method| Registered {
                method,
                session_ended,
            })
            .map_err(|e| match e {
                Error::Internal(_) | Error::Storage(_) | Error::PolicyViolation(_) => e,
                _ => rejected(),
            })
    }

    /// Ends a bootstrap session opened with a one-time pass, once it has registered a passkey.
    /// Returns whether it ended.
    async fn end_if_one_time(
        &self,
        tx: &mut Connection,
        signed_in: &SignedIn,
        correlation_id: Option<Uuid>,
        now: time::OffsetDateTime,
    ) -> Result<bool> {
        let session = &signed_in.session;
        let Some(tap_id) = session
            .tap_id
            .filter(|_| session.kind == SessionKind::Bootstrap)
        else {
            return Ok(false);
        };
        if !taps::get(tx, tap_id)
            .await?
            .is_some_and(|p| p.is_usable_once)
        {
            return Ok(false);
        }
        sessions::delete(tx, &session.id).await?;
        let user = &signed_in.user;
        let record = AuditRecord::new(Activity::SessionsRevoked, user_initiator(user), now)
            .reason("ended: its one-time pass is spent (passkey registered)")
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("count", 1)
            .detail("sessionKind", session.kind.as_str())
            .detail("temporaryAccessPassId", tap_id)
            .correlation(correlation_id);
        audit::insert(tx, &record).await?;
        Ok(true)
    }

    async fn verify_registration(
        &self,
        tx: &mut Connection,
        signed_in: &SignedIn,
        taken: Option<ceremonies::Taken>,
        answer: &RegisterPublicKeyCredential,
        name: &str,
        now: time::OffsetDateTime,
    ) -> Result<PasskeyMethod> {
        let user = &signed_in.user;
        let Some(taken) = taken else {
            return Err(Error::invalid("unknown, used or expired ceremony"));
        };
        if taken.user_id != Some(user.id)
            || taken.session_id.as_deref() != Some(signed_in.session.id.as_str())
        {
            return Err(Error::invalid("ceremony of another session"));
        }
        let state: RegistrationState = serde_json::from_str(&taken.state)
            .map_err(|e| Error::Internal(format!("corrupt ceremony state: {e}")))?;
        let (passkey, level) = match &state {
            RegistrationState::Passkey(s) => (
                self.webauthn.finish_passkey_registration(answer, s),
                AttestationLevel::NotAttested,
            ),
            RegistrationState::Attested(s) => (
                self.webauthn
                    .finish_attested_passkey_registration(answer, s)
                    .map(Passkey::from),
                AttestationLevel::Attested,
            ),
        };
        let passkey =
            passkey.map_err(|e| Error::invalid(format!("registration did not verify: {e}")))?;
        let aaguid = aaguid_of(answer).unwrap_or(Uuid::nil());
        let policy = self.policy(tx).await?;
        policy
            .check_registration(aaguid, level == AttestationLevel::Attested)
            .map_err(|r| Error::PolicyViolation(r.message().into()))?;
        let credential: webauthn_rs::prelude::Credential = passkey.clone().into();
        let method = PasskeyMethod {
            id: Uuid::new_v4(),
            user_id: user.id,
            display_name: passkey_name(name, crate::domain::webauthn::model_name(aaguid))?,
            aaguid,
            created_at: now,
            last_used_at: None,
            sign_count: credential.counter,
            backup_eligible: credential.backup_eligible,
            backup_state: credential.backup_state,
            attestation_format: format!("{:?}", credential.attestation_format).to_lowercase(),
            attestation_level: level,
            attestation_certificates: if level == AttestationLevel::Attested {
                attestation_certificates(&passkey)
            } else {
                vec![]
            },
        };
        let blob = serde_json::to_string(&passkey).map_err(|e| Error::Internal(e.to_string()))?;
        if !credentials::insert(tx, &method, passkey.cred_id().as_ref(), &blob).await? {
            return Err(Error::invalid("credential id already registered"));
        }
        Ok(method)
    }

    /// Starts a sign-in with a discoverable passkey: no user name needed. Returns the ceremony
    /// id and the options for `navigator.credentials.get`.
    pub async fn start_sign_in(&self) -> Result<(String, RequestChallengeResponse)> {
        let now = self.platform.now();
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(format!("sign-in options: {e}")))?;
        let state = serde_json::to_string(&state).map_err(|e| Error::Internal(e.to_string()))?;
        let id = URL_SAFE_NO_PAD.encode(random_bytes::<24>());
        let mut tx = self.platform.store.write().await?;
        ceremonies::purge_expired(&mut tx, now).await?;
        ceremonies::insert(
            &mut tx,
            &id,
            CeremonyKind::Authentication,
            None,
            None,
            &state,
            now + CEREMONY_TTL,
        )
        .await?;
        tx.commit().await?;
        Ok((id, options))
    }

    /// Verifies a sign-in answer and opens a full session. Every outcome is audited; the
    /// caller learns only success or a generic failure.
    #[instrument(skip_all)]
    pub async fn finish_sign_in(
        &self,
        ceremony_id: &str,
        answer: &PublicKeyCredential,
        client_address: Option<&str>,
        correlation_id: Option<Uuid>,
    ) -> Result<OpenedSession> {
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let taken =
            ceremonies::take(&mut tx, ceremony_id, CeremonyKind::Authentication, now).await?;
        let outcome = self.verify_sign_in(&mut tx, taken, answer, now).await;
        let result = match outcome {
            Ok((user, method, evidence)) => {
                let record = AuditRecord::new(Activity::PasskeySignIn, user_initiator(&user), now)
                    .client(client_address)
                    .target("User", user.id, Some(&user.user_principal_name))
                    .detail("fido2AuthenticationMethodId", method.id)
                    .detail("aaGuid", method.aaguid)
                    .correlation(correlation_id);
                audit::insert(&mut tx, &record).await?;
                let opened = self
                    .open_session(&mut tx, &user, SessionKind::Full, None)
                    .await?;
                // What proved the session, for the tokens applications receive through it
                // (auth_time, amr, acr).
                let authentication = Authentication {
                    user_id: user.id,
                    at: opened.session.created_at,
                    method_id: method.id,
                    backup_eligible: evidence.backup_eligible,
                    user_verified: evidence.user_verified,
                };
                oidc_sessions::insert(&mut tx, &opened.session.id, &authentication).await?;
                Ok(opened)
            }
            Err(SignInFailure { who, why, refusal }) => {
                let initiator = who.as_ref().map_or_else(
                    || Initiator {
                        kind: "user".into(),
                        id: None,
                        display_name: "unknown".into(),
                    },
                    user_initiator,
                );
                // Anyone can send answers: a repeat of the same failure from the same client
                // is counted on one record.
                let mut record = AuditRecord::new(Activity::PasskeySignInFailed, initiator, now)
                    .failed(why)
                    .client(client_address)
                    .coalescing(self.platform.settings.audit_coalesce_window)
                    .correlation(correlation_id);
                if let Some(u) = &who {
                    record = record.target("User", u.id, Some(&u.user_principal_name));
                }
                audit::insert(&mut tx, &record).await?;
                // A policy refusal is worth telling the user; anything else stays vague.
                Err(refusal.map_or_else(rejected, |r| Error::PolicyViolation(r.message().into())))
            }
        };
        tx.commit().await?;
        result
    }

    /// The user and passkey an answer proves, or who it claimed to be and why it failed.
    async fn verify_sign_in(
        &self,
        tx: &mut Connection,
        taken: Option<ceremonies::Taken>,
        answer: &PublicKeyCredential,
        now: time::OffsetDateTime,
    ) -> Result<(User, PasskeyMethod, Evidence), SignInFailure> {
        let internal = |e: Error| (None, format!("internal: {e}"));
        let Some(taken) = taken else {
            return Err((None, "unknown, used or expired ceremony".to_owned()).into());
        };
        let state: DiscoverableAuthentication = serde_json::from_str(&taken.state)
            .map_err(|e| (None, format!("corrupt state: {e}")))?;
        let (handle, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(answer)
            .map_err(|_| (None, "no user handle in the answer".to_string()))?;
        let stored = credentials::by_credential_id(tx, credential_id)
            .await
            .map_err(internal)?
            .ok_or((None, "unknown credential".to_string()))?;
        let user = users::get(tx, stored.method.user_id)
            .await
            .map_err(internal)?
            .ok_or((None, "credential of a deleted user".to_string()))?;
        let owner = credentials::user_for_handle(tx, handle.as_bytes())
            .await
            .map_err(internal)?;
        if owner != Some(user.id) {
            return Err((
                Some(user),
                "user handle does not match the credential".to_owned(),
            )
                .into());
        }
        if !user.account_enabled {
            return Err((Some(user), "account disabled".to_owned()).into());
        }
        let mut passkey: Passkey = serde_json::from_str(&stored.passkey)
            .map_err(|e| (Some(user.clone()), format!("corrupt credential: {e}")))?;
        let result = match self
            .webauthn
            .finish_discoverable_authentication_v2(answer, state, &passkey)
        {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return Err((
                    Some(user),
                    "signature counter did not increase: possible cloned authenticator".to_owned(),
                )
                    .into());
            }
            Err(e) => return Err((Some(user), format!("assertion did not verify: {e}")).into()),
        };
        let policy = self.policy(tx).await.map_err(internal)?;
        if let Err(r) = policy.check_sign_in(stored.method.aaguid) {
            return Err(SignInFailure {
                who: Some(user),
                why: format!("refused by policy: {}", r.message()),
                refusal: Some(r),
            });
        }
        passkey.update_credential(&result);
        let blob = serde_json::to_string(&passkey)
            .map_err(|e| internal(Error::Internal(e.to_string())))?;
        credentials::record_use(
            tx,
            stored.method.id,
            &blob,
            result.counter(),
            result.backup_eligible(),
            result.backup_state(),
            now,
        )
        .await
        .map_err(internal)?;
        let evidence = Evidence {
            backup_eligible: result.backup_eligible(),
            user_verified: result.user_verified(),
        };
        Ok((user, stored.method, evidence))
    }

    /// The signed-in user's passkeys and pass.
    pub async fn security_info(&self, signed_in: &SignedIn) -> Result<SecurityInfo> {
        let now = self.platform.now();
        let user = &signed_in.user;
        let mut conn = self.platform.store.read().await?;
        let passkeys = credentials::list_for_user(&mut conn, user.id).await?;
        let tap = match taps::for_user(&mut conn, user.id).await? {
            Some(record) => {
                let policy = self.platform.load_tap_policy(&mut conn).await?;
                let groups: HashSet<Uuid> = users::group_ids(&mut conn, user.id).await?;
                let ctx = Context {
                    policy_enabled: policy.state == PolicyState::Enabled,
                    user_targeted: policy.enabled_for(&groups),
                    account_enabled: user.account_enabled,
                };
                let usability = record.usability(ctx, now);
                Some((record, usability))
            }
            None => None,
        };
        Ok(SecurityInfo { passkeys, tap })
    }

    pub async fn rename_passkey(
        &self,
        signed_in: &SignedIn,
        id: Uuid,
        name: &str,
        correlation_id: Option<Uuid>,
    ) -> Result<()> {
        let user = &signed_in.user;
        let name = passkey_name(name, "")?;
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        if !credentials::rename(&mut tx, user.id, id, &name).await? {
            return Err(Error::not_found(format!("passkey `{id}`")));
        }
        let record = AuditRecord::new(Activity::PasskeyRenamed, user_initiator(user), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("fido2AuthenticationMethodId", id)
            .detail("displayName", &name)
            .correlation(correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes one of the user's own passkeys.
    pub async fn delete_own_passkey(
        &self,
        signed_in: &SignedIn,
        id: Uuid,
        correlation_id: Option<Uuid>,
    ) -> Result<PasskeyMethod> {
        let actor = signed_in.actor();
        let caller = Caller::new(actor, correlation_id);
        let now = self.platform.now();
        let mut tx = self.platform.store.write().await?;
        let deleted = delete_passkey(&mut tx, &caller, &signed_in.user, id, now).await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

async fn delete_passkey(
    tx: &mut Connection,
    caller: &Caller,
    user: &User,
    id: Uuid,
    now: time::OffsetDateTime,
) -> Result<PasskeyMethod> {
    let deleted = credentials::delete(tx, user.id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("fido2AuthenticationMethod `{id}`")))?;
    let record = AuditRecord::new(Activity::PasskeyDeleted, (&caller.actor).into(), now)
        .target("User", user.id, Some(&user.user_principal_name))
        .detail("fido2AuthenticationMethodId", id)
        .detail("aaGuid", deleted.aaguid)
        .correlation(caller.correlation_id);
    audit::insert(tx, &record).await?;
    Ok(deleted)
}

/// Administrators' operations, on the platform so the Graph API reaches them.
impl Platform {
    pub async fn fido2_policy(&self, caller: &Caller) -> Result<Fido2Policy> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        Ok(policies::get(&mut conn, fido2_policy::POLICY_ID)
            .await?
            .unwrap_or_default())
    }

    /// Applies a PATCH; audited with the old and new value.
    pub async fn update_fido2_policy(
        &self,
        caller: &Caller,
        patch: Fido2PolicyPatch,
    ) -> Result<Fido2Policy> {
        caller.actor.check_manage_policy()?;
        let now = self.now();
        let mut tx = self.store.write().await?;
        let before: Fido2Policy = policies::get(&mut tx, fido2_policy::POLICY_ID)
            .await?
            .unwrap_or_default();
        let after = before.patched(patch)?;
        if after == before {
            return Ok(after);
        }
        policies::put(&mut tx, fido2_policy::POLICY_ID, &after, now).await?;
        let to_json = |p: &Fido2Policy| serde_json::to_string(p).unwrap_or_default();
        let record = AuditRecord::new(Activity::PolicyUpdated, (&caller.actor).into(), now)
            .target("Policy", fido2_policy::POLICY_ID, Some("Passkeys (FIDO2)"))
            .detail("oldValue", to_json(&before))
            .detail("newValue", to_json(&after))
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// A user's passkeys — any administrative role.
    pub async fn fido2_methods(
        &self,
        caller: &Caller,
        user: &UserRef,
    ) -> Result<(User, Vec<PasskeyMethod>)> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        let user = users::find(&mut conn, user)
            .await?
            .ok_or_else(|| Error::not_found(format!("user `{user}`")))?;
        let methods = credentials::list_for_user(&mut conn, user.id).await?;
        Ok((user, methods))
    }

    /// Deletes a user's passkey — the roles that manage the user's passes.
    pub async fn delete_fido2_method(
        &self,
        caller: &Caller,
        user: &UserRef,
        id: Uuid,
    ) -> Result<PasskeyMethod> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        let user = users::find(&mut tx, user)
            .await?
            .ok_or_else(|| Error::not_found(format!("user `{user}`")))?;
        caller.actor.check_manage_passes_for(&user)?;
        let deleted = delete_passkey(&mut tx, caller, &user, id, now).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// Ends every browser session of a user — the roles that manage the user's passes.
    pub async fn revoke_sessions(&self, caller: &Caller, user: &UserRef) -> Result<u64> {
        let now = self.now();
        let mut tx = self.store.write().await?;
        let user = users::find(&mut tx, user)
            .await?
            .ok_or_else(|| Error::not_found(format!("user `{user}`")))?;
        caller.actor.check_manage_passes_for(&user)?;
        let n = sessions::delete_for_user(&mut tx, user.id).await?;
        let record = AuditRecord::new(Activity::SessionsRevoked, (&caller.actor).into(), now)
            .target("User", user.id, Some(&user.user_principal_name))
            .detail("count", n)
            .correlation(caller.correlation_id);
        audit::insert(&mut tx, &record).await?;
        tx.commit().await?;
        Ok(n)
    }
}
