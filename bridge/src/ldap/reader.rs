//! The users of a full read, read and mapped on their own task while the executor writes the
//! previous batch: the directory's answer, decoding and mapping then overlap the store's
//! writes instead of waiting for them.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::client::Client;
use super::delta::timestamp::Tracker;
use super::entry::Entry;
use super::mapping::{AttributeMap, Rejected, SourceUser, map_user};
use crate::error::{Error, Result};

pub type Batch = Vec<std::result::Result<SourceUser, Rejected>>;

/// What the reading task needs, owned.
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
    mut read: UserRead,
) -> (mpsc::Receiver<Batch>, JoinHandle<Result<(Client, Tracker)>>) {
    let (tx, rx) = mpsc::channel::<Batch>(2);
    let task = tokio::spawn(async move {
        for base in &read.base_dns {
            let mut search = client.paged(base, &read.filter, read.attrs.clone(), read.page_size);
            let mut batch = Vec::with_capacity(read.batch_size);
            while let Some(page) = search.next_page().await? {
                for e in page {
                    read.stamps.observe(&e);
                    batch.push(map(&read.map, &read.source, e));
                    if batch.len() >= read.batch_size {
                        send(&tx, std::mem::take(&mut batch)).await?;
                    }
                }
            }
            send(&tx, batch).await?;
        }
        Ok((client, read.stamps))
    });
    (rx, task)
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

pub fn map(
    map: &AttributeMap,
    source: &str,
    e: std::result::Result<Entry, String>,
) -> std::result::Result<SourceUser, Rejected> {
    match e {
        Ok(e) => map_user(map, source, &e),
        Err(reason) => Err(Rejected {
            dn: reason.clone(),
            anchor: None,
            reason,
        }),
    }
}

/// Waits for the reading task; a panic in it is an error of the run, not of the process.
pub async fn join(task: JoinHandle<Result<(Client, Tracker)>>) -> Result<(Client, Tracker)> {
    task.await
        .map_err(|e| Error::Ldap(format!("the directory read stopped: {e}")))?
}
