//! The onboarding mail outbox as the platform and the bridge see it: a message, its state, and
//! what its pass in Microsoft Entra became. The pass itself is never part of it.

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Sending,
    Sent,
    Failed,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    pub const ALL: [State; 5] = [
        State::Pending,
        State::Sending,
        State::Sent,
        State::Failed,
        State::Cancelled,
    ];

    /// A stored state; an unknown one reads as failed (never retried by mistake).
    pub fn parse(s: &str) -> State {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .unwrap_or(State::Failed)
    }
}

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first mail for a joiner, from a rule.
    Onboarding,
    /// An administrator's "resend onboarding".
    Resend,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Onboarding => "onboarding",
            Kind::Resend => "resend",
        }
    }
}

/// A message to enqueue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub idempotency_key: String,
    pub kind: Kind,
    pub user_id: Uuid,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub language: String,
    /// Pass terms and the rule's name.
    pub params: Value,
    /// Not sent before this time (a hire date minus some days).
    pub not_before: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Uuid,
    pub kind: String,
    pub user_id: Uuid,
    pub recipients: Vec<String>,
    pub cc: Vec<String>,
    pub language: String,
    pub params: Value,
    pub state: State,
    pub not_before: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
    pub attempts: u32,
    /// Attempts that may have reached the recipients without tapbridge knowing: a crash
    /// after the hand-over, or no reply to it. The next message says it replaces them.
    pub unconfirmed_attempts: u32,
    pub last_error: Option<String>,
    pub server_reply: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

/// What a message knows about its pass in Entra.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntraPass {
    /// The Entra user's object id.
    pub user_id: Option<String>,
    /// When the latest request for a pass was about to be sent.
    pub minting_at: Option<OffsetDateTime>,
    /// The pass Entra created (its method id).
    pub method_id: Option<String>,
    /// `pending`, `done` or `failed` once the user left.
    pub removal: Option<String>,
    pub removal_error: Option<String>,
}

/// What recording a created pass found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// On record; deliver it.
    Deliver,
    /// The user left while the pass was being created: delete it, deliver nothing.
    UserLeft,
    /// The claim is no longer this sender's.
    NotOurs,
}

/// A pass to delete in Entra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub message: Uuid,
    pub user_id: Uuid,
    /// `None`: the message never got as far as asking Entra; nothing to delete.
    pub entra_user_id: Option<String>,
    pub method_id: Option<String>,
    pub minting_at: Option<OffsetDateTime>,
    pub attempts: u32,
}
