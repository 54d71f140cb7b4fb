//! RFC 4533 refreshOnly deltas (OpenLDAP, 389-ds): changed entries in full, deleted ones by
//! UUID, or — when the server uses the present phase — every unchanged one by UUID, so the
//! rest can be swept.

use std::collections::HashSet;

use super::super::client::{Client, SyncMessage};
use super::super::controls::content_sync::{EntryState, SyncInfo};
use super::super::group_read::GroupMapper;
use super::super::state::{self, Cursor};
use super::super::sync::{
    Ctx, MATCH_NOTHING, Outcome, Progress, RunOptions, connect, map_entry_user,
};
use crate::error::Result;
use plugin::platform::directory_sync::Executor;

/// A cookie per base DN, taken without reading any entry.
pub(super) async fn start(ctx: &Ctx<'_>, client: &mut Client) -> Result<Cursor> {
    let mut cursor = Cursor::default();
    for base in &ctx.cfg.base_dns {
        if let Some(c) = cookie_now(client, base).await? {
            cursor.cookies.insert(base.clone(), state::hex(&c));
        }
    }
    Ok(cursor)
}

/// The current content-sync cookie for `base`, without reading any entry.
async fn cookie_now(client: &mut Client, base: &str) -> Result<Option<Vec<u8>>> {
    let mut search = client
        .refresh(base, MATCH_NOTHING, vec!["1.1".into()], None)
        .await?;
    let mut cookie = None;
    loop {
        match search.next().await? {
            SyncMessage::Done { cookie: c, .. } => return Ok(c.or(cookie)),
            SyncMessage::Info(info) => {
                if let Some(c) = info_cookie(&info) {
                    cookie = Some(c);
                }
            }
            SyncMessage::Entry(..) => {}
            SyncMessage::RefreshRequired => return Ok(None),
        }
    }
}

fn info_cookie(info: &SyncInfo) -> Option<Vec<u8>> {
    match info {
        SyncInfo::NewCookie(c) => Some(c.clone()),
        SyncInfo::RefreshDelete { cookie, .. }
        | SyncInfo::RefreshPresent { cookie, .. }
        | SyncInfo::SyncIdSet { cookie, .. } => cookie.clone(),
    }
}

pub(super) async fn delta(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    previous: &Cursor,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Result<Outcome> {
    let mut client = connect(ctx).await?;
    let filter = format!("(|{}{})", ctx.user_filter, ctx.group_filter);
    let mut attrs = ctx.user_attrs.clone();
    attrs.extend(ctx.group_attrs.iter().cloned());
    attrs.sort_by_key(|a| a.to_ascii_lowercase());
    attrs.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let mut cursor = Cursor::default();
    let mut present: HashSet<String> = HashSet::new();
    let mut deleted: HashSet<String> = HashSet::new();
    let mut any_present_phase = false;
    let mut changed_groups = GroupMapper::default();
    let batch_size = ctx.cfg.batch_size as usize;
    for base in &ctx.cfg.base_dns {
        let Some(cookie) = previous.cookies.get(base).and_then(|c| state::unhex(c)) else {
            return Ok(Outcome::RefreshRequired);
        };
        let mut search = client
            .refresh(base, &filter, attrs.clone(), Some(cookie))
            .await?;
        let mut batch = Vec::with_capacity(batch_size);
        let mut last_cookie = None;
        loop {
            match search.next().await? {
                SyncMessage::RefreshRequired => return Ok(Outcome::RefreshRequired),
                SyncMessage::Entry(st, entry) => {
                    let anchor = st.entry_uuid.to_string().to_lowercase();
                    if let Some(c) = st.cookie {
                        last_cookie = Some(c);
                    }
                    match st.state {
                        EntryState::Present => {
                            present.insert(anchor);
                        }
                        EntryState::Delete => {
                            deleted.insert(anchor);
                        }
                        EntryState::Add | EntryState::Modify => {
                            present.insert(anchor.clone());
                            match entry {
                                Ok(e) if ctx.map.is_group(&e) => {
                                    exec.counts.read += 1;
                                    changed_groups.take(&ctx.map, Ok(e));
                                }
                                other => {
                                    batch.push(map_entry_user(ctx, other));
                                    if batch.len() >= batch_size {
                                        exec.users(std::mem::take(&mut batch)).await?;
                                        progress(&exec.counts);
                                    }
                                }
                            }
                        }
                    }
                }
                SyncMessage::Info(info) => {
                    if let Some(c) = info_cookie(&info) {
                        last_cookie = Some(c);
                    }
                    match info {
                        SyncInfo::SyncIdSet {
                            refresh_deletes: true,
                            uuids,
                            ..
                        } => {
                            deleted.extend(uuids.iter().map(|u| u.to_string().to_lowercase()));
                        }
                        SyncInfo::SyncIdSet {
                            refresh_deletes: false,
                            uuids,
                            ..
                        } => {
                            any_present_phase = true;
                            present.extend(uuids.iter().map(|u| u.to_string().to_lowercase()));
                        }
                        SyncInfo::RefreshPresent { .. } => any_present_phase = true,
                        _ => {}
                    }
                }
                SyncMessage::Done {
                    cookie,
                    refresh_deletes,
                } => {
                    if !refresh_deletes {
                        any_present_phase = true;
                    }
                    if let Some(c) = cookie
                        .or(last_cookie.take())
                        .or_else(|| previous.cookies.get(base).and_then(|c| state::unhex(c)))
                    {
                        cursor.cookies.insert(base.clone(), state::hex(&c));
                    }
                    break;
                }
            }
        }
        exec.users(batch).await?;
    }
    let changed_groups = changed_groups.finish(ctx, &mut client, exec).await?;
    let seen = std::mem::take(&mut exec.seen);
    let gone = |anchor: &str| {
        deleted.contains(anchor)
            || (any_present_phase && !present.contains(anchor) && !seen.contains(anchor))
    };
    // Without a present phase, only the entries listed as deleted can be gone.
    let candidates = (!any_present_phase).then(|| deleted.iter().cloned().collect());
    super::finish(
        ctx,
        exec,
        &mut client,
        super::Leavers {
            user: gone,
            group: gone,
            candidates,
        },
        changed_groups,
        opts,
    )
    .await?;
    client.unbind().await;
    progress(&exec.counts);
    Ok(Outcome::Done(cursor))
}
