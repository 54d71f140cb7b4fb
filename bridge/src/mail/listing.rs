//! What an administrator sees of the outbox: counts per state and the newest messages, each
//! with its Entra pass state when one was minted there.

use std::collections::HashMap;

use plugin::platform::Platform;
use uuid::Uuid;

use super::outbox::{self, Message, State};
use plugin::store::entra::EntraPass;

pub struct OutboxListing {
    /// Every state, with its count (zero included).
    pub counts: Vec<(State, i64)>,
    /// The newest messages first.
    pub messages: Vec<Message>,
    /// Entra pass states by message id.
    pub entra: HashMap<Uuid, EntraPass>,
}

/// Counts per state, then up to `top` of the newest messages (in `state` when given). Never a
/// pass: none is stored.
pub async fn outbox_listing(
    platform: &Platform,
    state: Option<State>,
    top: u32,
) -> plugin::Result<OutboxListing> {
    let mut conn = platform.store().read().await?;
    let counts = outbox::counts(&mut conn).await?;
    let messages = outbox::list(&mut conn, state, top).await?;
    let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
    let entra = plugin::store::entra::of_messages(&mut conn, &ids)
        .await?
        .into_iter()
        .collect();
    Ok(OutboxListing {
        counts,
        messages,
        entra,
    })
}
