//! `modifyTimestamp` polling for directories without a change protocol (`generic`): entries
//! changed since the watermark are read in full; deletions and entries that left the filter
//! are found by the periodic full runs (`full_interval_hours`), whose sweep is exact.

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::super::entry::Entry;
use super::super::group_read::GroupMapper;
use super::super::mapping::parse_date;
use super::super::state::Cursor;
use super::super::sync::{Ctx, Outcome, Progress, RunOptions, connect, map_entry_user};
use crate::error::Result;
use plugin::platform::directory_sync::Executor;

/// The newest `modifyTimestamp` among the entries read.
#[derive(Debug, Default)]
pub struct Tracker {
    enabled: bool,
    newest: Option<OffsetDateTime>,
}

impl Tracker {
    pub fn new(enabled: bool) -> Self {
        Tracker {
            enabled,
            newest: None,
        }
    }

    pub fn observe(&mut self, e: &std::result::Result<Entry, String>) {
        if !self.enabled {
            return;
        }
        let Ok(e) = e else { return };
        if let Some(t) = e
            .text("modifytimestamp")
            .ok()
            .flatten()
            .and_then(parse_date)
            && self.newest.is_none_or(|n| t > n)
        {
            self.newest = Some(t);
        }
    }

    /// Where the next delta reads from. An entry changed while the read was under way, but
    /// after the read had passed it, carries a stamp no older than the read's start, which is
    /// no older than (newest stamp seen − read time): going back by the read time (plus a
    /// second, the stamps' resolution) is what makes the poll miss nothing. Never moves back
    /// past `floor`, the previous watermark; `None` when nothing was seen and there is no floor.
    pub fn next_watermark(&self, floor: Option<&str>, read_took: Duration) -> Option<String> {
        let floor_t = floor.and_then(parse_date);
        let back = time::Duration::try_from(read_took).unwrap_or(time::Duration::DAY)
            + time::Duration::SECOND;
        let candidate = self.newest.map(|n| n - back);
        let next = match (candidate, floor_t) {
            (Some(c), Some(f)) => Some(c.max(f)),
            (c, f) => c.or(f),
        }?;
        Some(generalized_time(next))
    }
}

/// `YYYYMMDDHHMMSSZ`, the form every server accepts in an ordering filter.
pub fn generalized_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub(super) async fn delta(
    ctx: &Ctx<'_>,
    exec: &mut Executor<'_>,
    previous: &Cursor,
    opts: RunOptions,
    progress: Progress<'_>,
) -> Result<Outcome> {
    let Some(since) = previous
        .watermark
        .as_deref()
        .filter(|w| parse_date(w).is_some())
    else {
        return Ok(Outcome::RefreshRequired);
    };
    let started = Instant::now();
    let mut client = connect(ctx).await?;
    let mut stamps = Tracker::new(true);
    let batch_size = ctx.cfg.batch_size as usize;
    let changed = |filter: &str| format!("(&{filter}(modifyTimestamp>={since}))");
    for base in &ctx.cfg.base_dns {
        let mut search = client.paged(
            base,
            &changed(&ctx.user_filter),
            ctx.user_attrs.clone(),
            ctx.cfg.page_size,
        );
        let mut batch = Vec::with_capacity(batch_size);
        while let Some(page) = search.next_page().await? {
            for e in page {
                stamps.observe(&e);
                batch.push(map_entry_user(ctx, e));
                if batch.len() >= batch_size {
                    exec.users(std::mem::take(&mut batch)).await?;
                    progress(&exec.counts);
                }
            }
        }
        exec.users(batch).await?;
    }
    // Changed groups, read whole: their memberships are recomputed from these entries.
    let mut changed_groups = GroupMapper::default();
    for base in &ctx.cfg.base_dns {
        let mut search = client.paged(
            base,
            &changed(&ctx.group_filter),
            ctx.group_attrs.clone(),
            ctx.cfg.page_size,
        );
        while let Some(page) = search.next_page().await? {
            for e in page {
                exec.counts.read += 1;
                stamps.observe(&e);
                changed_groups.take(&ctx.map, e);
            }
        }
    }
    let changed_groups = changed_groups.finish(ctx, &mut client, exec).await?;
    super::finish(
        ctx,
        exec,
        &mut client,
        super::Leavers {
            user: |_: &str| false,
            group: |_: &str| false,
            candidates: Some(Vec::new()),
        },
        changed_groups,
        opts,
    )
    .await?;
    client.unbind().await;
    progress(&exec.counts);
    let cursor = Cursor {
        watermark: stamps.next_watermark(Some(since), started.elapsed()),
        ..Cursor::default()
    };
    Ok(Outcome::Done(cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stamp: &str) -> std::result::Result<Entry, String> {
        Ok(Entry::new("cn=x").with("modifyTimestamp", &[stamp]))
    }

    #[test]
    fn watermark_goes_back_by_the_read_time_but_never_past_the_floor() {
        let mut t = Tracker::new(true);
        assert_eq!(t.next_watermark(None, Duration::ZERO), None);
        assert_eq!(
            t.next_watermark(Some("20260101000000Z"), Duration::ZERO)
                .as_deref(),
            Some("20260101000000Z")
        );
        t.observe(&entry("20261127101500Z"));
        t.observe(&entry("20261127101000.0Z"));
        t.observe(&Err("bad".into()));
        t.observe(&entry("not a time"));
        assert_eq!(
            t.next_watermark(None, Duration::from_secs(9)).as_deref(),
            Some("20261127101450Z")
        );
        assert_eq!(
            t.next_watermark(Some("20261127101455Z"), Duration::from_secs(60))
                .as_deref(),
            Some("20261127101455Z")
        );
        let mut off = Tracker::new(false);
        off.observe(&entry("20261127101500Z"));
        assert_eq!(off.next_watermark(None, Duration::ZERO), None);
    }
}
