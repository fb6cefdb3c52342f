//! Group commit for contact creation: many concurrent creations share one
//! transaction (and so one fsync). Each caller is answered only after the
//! transaction holding its contact has committed.
//!
//! Limits: at most [`MAX_PENDING`] creations wait for the writer (callers
//! beyond that wait for room: back-pressure, not loss) and at most
//! [`MAX_BATCH`] go into one transaction. If a batch fails, its contacts are
//! retried one per transaction so one bad row cannot fail its neighbours.

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::audit::append_event;
use crate::contacts::insert_contact;
use crate::{Contact, Result, StoreError};

pub(crate) const MAX_PENDING: usize = 16_384;
pub(crate) const MAX_BATCH: usize = 512;

pub(crate) struct Pending {
    pub(crate) contact: Contact,
    pub(crate) event: serde_json::Value,
    pub(crate) done: oneshot::Sender<Result<()>>,
}

pub(crate) fn spawn(pool: AnyPool) -> mpsc::Sender<Pending> {
    let (tx, rx) = mpsc::channel(MAX_PENDING);
    tokio::spawn(run(pool, rx));
    tx
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<Pending>) {
    let mut buf = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut buf, MAX_BATCH).await > 0 {
        metrics::histogram!("switchboard_store_batch_size").record(buf.len() as f64);
        match commit(&pool, &buf).await {
            Ok(()) => {
                for p in buf.drain(..) {
                    let _ = p.done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, size = buf.len(), "contact batch failed; retrying one by one");
                for p in buf.drain(..) {
                    let r = commit(&pool, std::slice::from_ref(&p)).await;
                    let _ = p.done.send(r);
                }
            }
        }
    }
}

async fn commit(pool: &AnyPool, batch: &[Pending]) -> Result<()> {
    let mut tx = pool.begin().await?;
    for p in batch {
        insert_contact(&mut tx, &p.contact).await?;
        append_event(
            &mut tx,
            p.contact.tenant_id,
            "contact.created",
            &p.contact.id.to_string(),
            p.contact.created_at,
            &p.event,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

impl crate::Store {
    /// Creates a contact and appends its `contact.created` event, durably,
    /// through the group-commit writer.
    pub async fn create_contact(&self, contact: Contact, event: serde_json::Value) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.inner
            .batch
            .send(Pending {
                contact,
                event,
                done,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        wait.await.map_err(|_| StoreError::WriterGone)?
    }
}
