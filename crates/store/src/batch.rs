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

use crate::contacts::{insert_contacts, value_rows};
use crate::{Contact, Result, StoreError};

pub(crate) const MAX_PENDING: usize = 16_384;
pub(crate) const MAX_BATCH: usize = 512;

pub(crate) struct Pending {
    pub(crate) contact: Contact,
    pub(crate) event: serde_json::Value,
    pub(crate) done: oneshot::Sender<Result<()>>,
}

pub(crate) fn spawn(pool: AnyPool, anonymous: bool) -> mpsc::Sender<Pending> {
    let (tx, rx) = mpsc::channel(MAX_PENDING);
    tokio::spawn(run(pool, rx, anonymous));
    tx
}

async fn run(pool: AnyPool, mut rx: mpsc::Receiver<Pending>, anonymous: bool) {
    let mut buf = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut buf, MAX_BATCH).await > 0 {
        metrics::histogram!("switchboard_store_batch_size").record(buf.len() as f64);
        match commit(&pool, &buf, anonymous).await {
            Ok(()) => {
                for p in buf.drain(..) {
                    let _ = p.done.send(Ok(()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, size = buf.len(), "contact batch failed; retrying one by one");
                for p in buf.drain(..) {
                    let r = commit(&pool, std::slice::from_ref(&p), anonymous).await;
                    let _ = p.done.send(r);
                }
            }
        }
    }
}

/// Rows per multi-row statement: a few fixed sizes, so the prepared
/// statement cache holds a handful of statements however batches vary.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

async fn commit(pool: &AnyPool, batch: &[Pending], anonymous: bool) -> Result<()> {
    let mut tx = pool.begin().await?;
    let mut rest = batch;
    while !rest.is_empty() {
        let n = CHUNKS
            .iter()
            .copied()
            .find(|k| *k <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(n);
        let contacts: Vec<&crate::Contact> = chunk.iter().map(|p| &p.contact).collect();
        insert_contacts(&mut tx, &contacts, anonymous).await?;
        let sql = format!(
            "INSERT INTO events (tenant_id, kind, subject_id, at, payload) VALUES {}",
            value_rows(n, 5, anonymous)
        );
        let mut q = sqlx::query::<sqlx::Any>(sqlx::AssertSqlSafe(sql));
        for p in chunk {
            q = q
                .bind(p.contact.tenant_id.to_string())
                .bind("contact.created")
                .bind(p.contact.id.to_string())
                .bind(p.contact.created_at)
                .bind(p.event.to_string());
        }
        q.execute(&mut *tx).await?;
        rest = tail;
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
