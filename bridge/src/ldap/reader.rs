//! The users of a full read, in a pipeline of three tasks so the two cores and the directory
//! server are busy at once:
//!
//! 1. the wire: requests page after page and hands each page on as the messages that carried
//!    it, so the server is asked for the next page as soon as one is in, not once it is mapped;
//! 2. the mapping: reads each entry in place from its message ([`Message::entry`]), maps it
//!    and fills batches;
//! 3. the caller: the executor writes a batch while the next ones are read and mapped.
//!
//! Each stage is bounded (two pages, two batches ahead), so memory stays flat whatever the
//! size of the directory.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::client::{Client, Message};
use super::delta::timestamp::Tracker;
use super::entry::{Attributes, Entry};
use super::mapping::{AttributeMap, Rejected, SourceUser, map_user};
use crate::error::{Error, Result};

pub type Batch = Vec<std::result::Result<SourceUser, Rejected>>;

/// Pages read ahead of the mapping.
const PAGES_AHEAD: usize = 2;

/// What the reading tasks need, owned.
pub struct UserRead {
    pub map: AttributeMap,
    pub source: String,
    pub base_dns: Vec<String>,
    pub filter: String,
    pub attrs: Vec<String>,
    pub page_size: u32,
    pub batch_size: usize,
    pub stamps: Tracker,
}

/// Batches arrive on the receiver; the handle gives the client (and the timestamps seen) back
/// once every base was read, or the error that cut the read short. At most two batches wait,
/// so memory stays bounded whatever the size of the directory.
pub fn spawn(
    mut client: Client,
    read: UserRead,
) -> (mpsc::Receiver<Batch>, JoinHandle<Result<(Client, Tracker)>>) {
    let (tx, rx) = mpsc::channel::<Batch>(2);
    let (pages_tx, pages_rx) = mpsc::channel::<Vec<Message>>(PAGES_AHEAD);
    let UserRead {
        map,
        source,
        base_dns,
        filter,
        attrs,
        page_size,
        batch_size,
        stamps,
    } = read;
    let mapping = tokio::spawn(map_pages(pages_rx, tx, map, source, batch_size, stamps));
    let task = tokio::spawn(async move {
        let wire = async {
            for base in &base_dns {
                let mut search = client.paged(base, &filter, attrs.clone(), page_size);
                while let Some(page) = search.next_page_raw().await? {
                    // The mapping is gone only when the writer failed; its error is reported.
                    pages_tx
                        .send(page)
                        .await
                        .map_err(|_| Error::Ldap("the sync stopped writing".into()))?;
                }
            }
            Ok::<_, Error>(())
        };
        let read = wire.await;
        drop(pages_tx);
        let stamps = mapping
            .await
            .map_err(|e| Error::Ldap(format!("mapping the directory's users stopped: {e}")))?;
        read?;
        Ok((client, stamps?))
    });
    (rx, task)
}

/// The mapping stage: pages in, batches of `batch_size` out.
async fn map_pages(
    mut pages: mpsc::Receiver<Vec<Message>>,
    tx: mpsc::Sender<Batch>,
    map: AttributeMap,
    source: String,
    batch_size: usize,
    mut stamps: Tracker,
) -> Result<Tracker> {
    let mut batch = Vec::with_capacity(batch_size);
    while let Some(page) = pages.recv().await {
        for m in page {
            let entry = m.entry();
            if let Ok(e) = &entry {
                observe(&mut stamps, e);
            }
            batch.push(match entry {
                Ok(e) => map_user(&map, &source, &e),
                Err(reason) => Err(rejected(reason)),
            });
            if batch.len() >= batch_size {
                send(&tx, std::mem::take(&mut batch)).await?;
            }
        }
    }
    send(&tx, batch).await?;
    Ok(stamps)
}

/// Timestamp deltas need the newest `modifyTimestamp` read; only their searches ask for it.
fn observe(stamps: &mut Tracker, e: &impl Attributes) {
    if let Ok(Some(stamp)) = e.text("modifytimestamp") {
        stamps.observe(&Ok(Entry::new("").with("modifytimestamp", &[stamp])));
    }
}

async fn send(tx: &mpsc::Sender<Batch>, batch: Batch) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    // The receiver is gone only when the writer failed; its error is the one reported.
    tx.send(batch)
        .await
        .map_err(|_| Error::Ldap("the sync stopped writing".into()))
}

fn rejected(reason: String) -> Rejected {
    Rejected {
        dn: reason.clone(),
        anchor: None,
        reason,
    }
}

pub fn map(
    map: &AttributeMap,
    source: &str,
    e: std::result::Result<Entry, String>,
) -> std::result::Result<SourceUser, Rejected> {
    match e {
        Ok(e) => map_user(map, source, &e),
        Err(reason) => Err(rejected(reason)),
    }
}

/// Waits for the reading tasks; a panic in one is an error of the run, not of the process.
pub async fn join(task: JoinHandle<Result<(Client, Tracker)>>) -> Result<(Client, Tracker)> {
    task.await
        .map_err(|e| Error::Ldap(format!("the directory read stopped: {e}")))?
}
