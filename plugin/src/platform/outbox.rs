//! What an administrator sees of the onboarding mail outbox.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Caller, Platform};
use crate::Result;
use crate::domain::outbox::{EntraPass, Message, State};
use crate::store::entra;
use crate::store::outbox;

#[derive(Debug)]
pub struct OutboxListing {
    /// Every state, with its count (zero included).
    pub counts: Vec<(State, i64)>,
    /// The newest messages first.
    pub messages: Vec<Message>,
    /// Entra pass states by message id, for messages whose pass was minted there.
    pub entra: HashMap<Uuid, EntraPass>,
}

impl Platform {
    /// Counts per state, then up to `top` of the newest messages (in `state` when given) —
    /// any administrative role. Never a pass: none is stored.
    pub async fn mail_outbox(
        &self,
        caller: &Caller,
        state: Option<State>,
        top: u32,
    ) -> Result<OutboxListing> {
        caller.actor.check_read()?;
        let mut conn = self.store.read().await?;
        let counts = outbox::counts(&mut conn).await?;
        let messages = outbox::list(&mut conn, state, top).await?;
        let ids: Vec<_> = messages.iter().map(|m| m.id).collect();
        let entra = entra::of_messages(&mut conn, &ids)
            .await?
            .into_iter()
            .collect();
        Ok(OutboxListing {
            counts,
            messages,
            entra,
        })
    }
}

#[cfg(test)]
mod tests {

    use super::super::testing::{caller, fixture};
    use super::*;
    use crate::Error;
    use crate::domain::directory::NewUser;
    use crate::domain::outbox::{Kind, NewMessage};
    use crate::domain::role::Role;

    #[tokio::test]
    async fn a_reader_sees_counts_and_the_newest_messages_others_nothing() {
        let f = fixture().await;
        let p = &f.platform;
        let user = p
            .create_user(
                &Caller::operator(),
                NewUser {
                    user_principal_name: "ada@example.com".into(),
                    account_enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut tx = p.store().write().await.unwrap();
        for n in 0..3 {
            let m = NewMessage {
                idempotency_key: format!("k{n}"),
                kind: Kind::Resend,
                user_id: user.id,
                recipients: vec!["ada@example.com".into()],
                cc: vec![],
                language: "en".into(),
                params: serde_json::json!({}),
                not_before: p.now(),
            };
            outbox::insert(&mut tx, &m, p.now()).await.unwrap().unwrap();
        }
        tx.commit().await.unwrap();

        let listing = p
            .mail_outbox(&caller(&[Role::Reader]), None, 2)
            .await
            .unwrap();
        assert_eq!(listing.messages.len(), 2, "at most `top`");
        let pending = listing.counts.iter().find(|(s, _)| *s == State::Pending);
        assert_eq!(pending.map(|(_, n)| *n), Some(3), "all counted");
        assert_eq!(
            listing.counts.len(),
            State::ALL.len(),
            "every state, zero included"
        );
        assert!(listing.entra.is_empty());
        let sent = p
            .mail_outbox(&caller(&[Role::Reader]), Some(State::Sent), 10)
            .await
            .unwrap();
        assert!(sent.messages.is_empty());

        let refused = p.mail_outbox(&caller(&[]), None, 10).await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    }
}
