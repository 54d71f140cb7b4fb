//! Audit records, shaped after Graph's `directoryAudit`.

use time::OffsetDateTime;
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
    RolesUpdated,
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
            Activity::RolesUpdated => "Update role assignments",
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
        }
    }

    pub fn category(self) -> &'static str {
        match self {
            Activity::PolicyUpdated => "Policy",
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
            | Activity::ApplicationTokensRevoked => "Authentication",
            _ => "UserManagement",
        }
    }

    pub fn operation_type(self) -> &'static str {
        match self {
            Activity::TapRegistered
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
            | Activity::TapsPurged
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
}

impl AuditRecord {
    pub fn new(activity: Activity, initiated_by: Initiator, at: OffsetDateTime) -> Self {
        AuditRecord {
            id: Uuid::new_v4(),
            at,
            activity,
            success: true,
            result_reason: None,
            initiated_by,
            targets: vec![],
            correlation_id: None,
            details: vec![],
        }
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
}
