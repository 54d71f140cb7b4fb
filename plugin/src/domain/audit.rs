//! Audit records, shaped after Graph's `directoryAudit`.

use std::fmt::Write;

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::actor::{Actor, Principal};

/// Everything tapbridge audits. The display names follow Entra's where Entra has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    TapRegistered,
    TapDeleted,
    TapSignIn,
    TapSignInFailed,
    TapLocked,
    TapsPurged,
    AuditPurged,
    PolicyUpdated,
    UserAdded,
    UserUpdated,
    UserDisabled,
    UserDeleted,
    GroupAdded,
    GroupUpdated,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
    TokenCreated,
    TokenRevoked,
    PasskeyRegistered,
    PasskeyRegistrationFailed,
    PasskeyRenamed,
    PasskeyDeleted,
    PasskeySignIn,
    PasskeySignInFailed,
    SessionsRevoked,
    OnboardingMailQueued,
    OnboardingMailCancelled,
    OnboardingMailSkipped,
    /// An operator asked for a waiting or failed message to be sent again now.
    OnboardingMailRetried,
    RolesUpdated,
    /// A pass created in Microsoft Entra for a joiner (the method id is in the details).
    EntraPassCreated,
    /// A pass tapbridge created in Microsoft Entra deleted there (a leaver, an undelivered
    /// message).
    EntraPassDeleted,
    SigningKeysRotated,
    ApplicationAdded,
    ApplicationUpdated,
    ApplicationDeleted,
    ApplicationSecretAdded,
    ApplicationSecretRemoved,
    ApplicationConsent,
    ApplicationSignIn,
    ApplicationSignInFailed,
    ApplicationTokensRevoked,
    /// A user completed Microsoft Entra's external authentication method with a passkey.
    ExternalMfaSignIn,
    ExternalMfaSignInFailed,
}

impl Activity {
    pub fn display_name(self) -> &'static str {
        match self {
            Activity::TapRegistered => "Admin registered temporary access pass method for user",
            Activity::TapDeleted => "Admin deleted temporary access pass method for user",
            Activity::TapSignIn => "User signed in with temporary access pass",
            Activity::TapSignInFailed => "Temporary access pass sign-in failed",
            Activity::TapLocked => "Temporary access pass locked after repeated failures",
            Activity::TapsPurged => "Purge expired temporary access passes",
            Activity::AuditPurged => "Purge audit records past retention",
            Activity::PolicyUpdated => "Authentication Methods Policy Update",
            Activity::UserAdded => "Add user",
            Activity::UserUpdated => "Update user",
            Activity::UserDisabled => "Disable account",
            Activity::UserDeleted => "Delete user",
            Activity::GroupAdded => "Add group",
            Activity::GroupUpdated => "Update group",
            Activity::GroupDeleted => "Delete group",
            Activity::GroupMemberAdded => "Add member to group",
            Activity::GroupMemberRemoved => "Remove member from group",
            Activity::TokenCreated => "Add API token",
            Activity::TokenRevoked => "Revoke API token",
            Activity::PasskeyRegistered => "User registered security info",
            Activity::PasskeyRegistrationFailed => "User registered security info failed",
            Activity::PasskeyRenamed => "User changed security info",
            Activity::PasskeyDeleted => "User deleted security info",
            Activity::PasskeySignIn => "User signed in with passkey",
            Activity::PasskeySignInFailed => "Passkey sign-in failed",
            Activity::SessionsRevoked => "Revoke sign-in sessions",
            Activity::OnboardingMailQueued => "Queue onboarding mail",
            Activity::OnboardingMailCancelled => "Cancel onboarding mail",
            Activity::OnboardingMailSkipped => "Onboarding mail not queued",
            Activity::OnboardingMailRetried => "Retry onboarding mail",
            Activity::RolesUpdated => "Update role assignments",
            Activity::EntraPassCreated => "Create temporary access pass in Microsoft Entra",
            Activity::EntraPassDeleted => "Delete temporary access pass in Microsoft Entra",
            Activity::SigningKeysRotated => "Rotate token signing keys",
            Activity::ApplicationAdded => "Add application",
            Activity::ApplicationUpdated => "Update application",
            Activity::ApplicationDeleted => "Delete application",
            Activity::ApplicationSecretAdded => {
                "Update application – Certificates and secrets management"
            }
            Activity::ApplicationSecretRemoved => {
                "Remove application – Certificates and secrets management"
            }
            Activity::ApplicationConsent => "Consent to application",
            Activity::ApplicationSignIn => "User signed in to application",
            Activity::ApplicationSignInFailed => "Application sign-in failed",
            Activity::ApplicationTokensRevoked => "Revoke application tokens",
            Activity::ExternalMfaSignIn => {
                "User verified for Microsoft Entra (external authentication method)"
            }
            Activity::ExternalMfaSignInFailed => {
                "Verification for Microsoft Entra failed (external authentication method)"
            }
        }
    }

    pub fn category(self) -> &'static str {
        match self {
            Activity::PolicyUpdated => "Policy",
            Activity::AuditPurged => "Other",
            Activity::TokenCreated
            | Activity::TokenRevoked
            | Activity::SigningKeysRotated
            | Activity::ApplicationAdded
            | Activity::ApplicationUpdated
            | Activity::ApplicationDeleted
            | Activity::ApplicationSecretAdded
            | Activity::ApplicationSecretRemoved
            | Activity::ApplicationConsent => "ApplicationManagement",
            Activity::GroupAdded
            | Activity::GroupUpdated
            | Activity::GroupDeleted
            | Activity::GroupMemberAdded
            | Activity::GroupMemberRemoved => "GroupManagement",
            Activity::TapSignIn
            | Activity::TapSignInFailed
            | Activity::TapLocked
            | Activity::PasskeySignIn
            | Activity::PasskeySignInFailed
            | Activity::SessionsRevoked
            | Activity::ApplicationSignIn
            | Activity::ApplicationSignInFailed
            | Activity::ApplicationTokensRevoked
            | Activity::ExternalMfaSignIn
            | Activity::ExternalMfaSignInFailed => "Authentication",
            _ => "UserManagement",
        }
    }

    pub fn operation_type(self) -> &'static str {
        match self {
            Activity::TapRegistered
            | Activity::EntraPassCreated
            | Activity::UserAdded
            | Activity::GroupAdded
            | Activity::GroupMemberAdded
            | Activity::TokenCreated
            | Activity::PasskeyRegistered
            | Activity::PasskeyRegistrationFailed
            | Activity::ApplicationAdded
            | Activity::ApplicationSecretAdded
            | Activity::ApplicationConsent => "Add",
            Activity::TapDeleted
            | Activity::EntraPassDeleted
            | Activity::TapsPurged
            | Activity::AuditPurged
            | Activity::TokenRevoked
            | Activity::UserDeleted
            | Activity::GroupDeleted
            | Activity::GroupMemberRemoved
            | Activity::PasskeyDeleted
            | Activity::SessionsRevoked
            | Activity::ApplicationDeleted
            | Activity::ApplicationSecretRemoved
            | Activity::ApplicationTokensRevoked => "Delete",
            _ => "Update",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditTarget {
    pub id: String,
    pub kind: String,
    pub display_name: Option<String>,
}

/// An [`AuditTarget`] that borrows what it names; serialised as the target it stands for.
/// The records of many alike changes (a group's members) are written from these without
/// a record of their own each.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TargetRef<'a> {
    pub id: Uuid,
    pub kind: &'static str,
    pub display_name: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiator {
    /// `app` (an API token), `operator` (the CLI) or `user`.
    pub kind: String,
    pub id: Option<String>,
    pub display_name: String,
}

impl From<&Actor> for Initiator {
    fn from(actor: &Actor) -> Self {
        let display_name = actor.display_name();
        match &actor.principal {
            Principal::ApiToken { id, name } => Initiator {
                kind: "app".into(),
                id: Some(id.to_string()),
                display_name: name.clone(),
            },
            Principal::Service { name } => Initiator {
                kind: "service".into(),
                id: None,
                display_name: name.clone(),
            },
            Principal::Operator => Initiator {
                kind: "operator".into(),
                id: None,
                display_name,
            },
            Principal::User { id, .. } => Initiator {
                kind: "user".into(),
                id: Some(id.to_string()),
                display_name,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: Uuid,
    pub at: OffsetDateTime,
    pub activity: Activity,
    pub success: bool,
    /// Why, when it failed or when there is something to say (e.g. "replaced by a new pass").
    pub result_reason: Option<String>,
    pub initiated_by: Initiator,
    pub targets: Vec<AuditTarget>,
    pub correlation_id: Option<Uuid>,
    /// Free-form key/value pairs. Never a secret.
    pub details: Vec<(String, String)>,
    /// The client's address, for what an unauthenticated client attempts.
    pub client_address: Option<String>,
    /// Set on failures a client can repeat at will (a sign-in): a repeat within this window
    /// of an identical record (see [`AuditRecord::coalesce_key`]) is counted on that record
    /// instead of adding one, so a flood adds rows by the window, not by the request.
    pub coalesce_window: Option<Duration>,
}

impl AuditRecord {
    pub fn new(activity: Activity, initiated_by: Initiator, at: OffsetDateTime) -> Self {
        AuditRecord {
            // Time-ordered: a record's id is appended to its index like its `seq`, where a
            // random one landed on a random page of an index as large as the log (a third
            // of a 100,000-user first load went there). The time it shows is the record's
            // own `at`.
            id: Uuid::now_v7(),
            at,
            activity,
            success: true,
            result_reason: None,
            initiated_by,
            targets: vec![],
            correlation_id: None,
            details: vec![],
            client_address: None,
            coalesce_window: None,
        }
    }

    pub fn client(mut self, address: Option<&str>) -> Self {
        self.client_address = address.map(|a| a.chars().take(64).collect());
        self
    }

    /// Lets repeats within `window` be counted on this record (see the field).
    pub fn coalescing(mut self, window: Duration) -> Self {
        self.coalesce_window = Some(window);
        self
    }

    /// What makes two records "the same failure": activity, result, who, on what, from where.
    /// Details are left out (they carry counters such as `failedAttempts`, and a coalesced
    /// row keeps the latest); so are the time and the correlation id. `None` for records that
    /// never coalesce.
    pub fn coalesce_key(&self) -> Option<String> {
        self.coalesce_window?;
        let mut h = Sha256::new();
        let i = &self.initiated_by;
        let mut field = |s: &str| {
            // Length-prefixed, so no two field lists hash alike.
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(self.activity.display_name());
        field(if self.success { "success" } else { "failure" });
        field(self.result_reason.as_deref().unwrap_or(""));
        field(&i.kind);
        field(i.id.as_deref().unwrap_or(""));
        field(&i.display_name);
        for t in &self.targets {
            field(&t.kind);
            field(&t.id);
            field(t.display_name.as_deref().unwrap_or(""));
        }
        field(self.client_address.as_deref().unwrap_or(""));
        let mut key = String::with_capacity(64);
        for b in h.finalize() {
            let _ = write!(key, "{b:02x}");
        }
        Some(key)
    }

    pub fn failed(mut self, reason: impl Into<String>) -> Self {
        self.success = false;
        self.result_reason = Some(reason.into());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.result_reason = Some(reason.into());
        self
    }

    pub fn target(mut self, kind: &str, id: impl ToString, display_name: Option<&str>) -> Self {
        self.targets.push(AuditTarget {
            id: id.to_string(),
            kind: kind.into(),
            display_name: display_name.map(str::to_owned),
        });
        self
    }

    pub fn detail(mut self, key: &str, value: impl ToString) -> Self {
        self.details.push((key.into(), value.to_string()));
        self
    }

    pub fn correlation(mut self, id: Option<Uuid>) -> Self {
        self.correlation_id = id;
        self
    }
}

/// Which audit records to list: newest first, keyset-paged by sequence number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub before_seq: Option<i64>,
    pub limit: u32,
    pub activity: Option<String>,
}

/// An audit record as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: Uuid,
    pub at: OffsetDateTime,
    pub category: String,
    pub activity: String,
    pub operation_type: String,
    pub success: bool,
    pub result_reason: Option<String>,
    pub initiated_by: Initiator,
    pub targets: Vec<AuditTarget>,
    pub correlation_id: Option<Uuid>,
    pub details: Vec<(String, String)>,
    pub client_address: Option<String>,
    /// How many identical records this one stands for (1 unless coalesced).
    pub occurrences: u32,
    /// The last of them, when there was more than one.
    pub last_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-27 09:00 UTC);

    fn failure(name: &str, client: &str, at: OffsetDateTime) -> AuditRecord {
        AuditRecord::new(
            Activity::TapSignInFailed,
            Initiator {
                kind: "user".into(),
                id: None,
                display_name: name.into(),
            },
            at,
        )
        .failed("no such user or no pass")
        .client(Some(client))
        .coalescing(Duration::minutes(15))
    }

    #[test]
    fn identical_failures_share_a_key_whatever_their_time_id_and_details() {
        let a = failure("nobody@example.com", "192.0.2.1", T0);
        let b = failure("nobody@example.com", "192.0.2.1", T0 + Duration::minutes(3))
            .correlation(Some(Uuid::new_v4()))
            .detail("failedAttempts", 4);
        assert!(a.coalesce_key().is_some());
        assert_eq!(a.coalesce_key(), b.coalesce_key());
        for other in [
            failure("other@example.com", "192.0.2.1", T0),
            failure("nobody@example.com", "192.0.2.2", T0),
            failure("nobody@example.com", "192.0.2.1", T0).failed("wrong pass"),
            failure("nobody@example.com", "192.0.2.1", T0).target("User", Uuid::nil(), None),
        ] {
            assert_ne!(a.coalesce_key(), other.coalesce_key());
        }
        let plain = AuditRecord {
            coalesce_window: None,
            ..a
        };
        assert_eq!(
            plain.coalesce_key(),
            None,
            "only records marked to coalesce"
        );
    }
}
