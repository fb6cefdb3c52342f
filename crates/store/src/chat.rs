//! Web chat: a tenant's widgets (the queue their chats go to, the sites
//! allowed to embed them, the address transcripts are sent from) and
//! customers' chat sessions, found by the SHA-256 of their secret.
//! Conversations and messages are the written channels' (`email.rs`), with
//! `channel = 'chat'`.

use sb_model::{TenantId, UnixMs};
use serde_json::json;
use sqlx::{Any, FromRow};

use crate::audit::write_audit;
use crate::{AuditEntry, Result, Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct ChatWidget {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub name: String,
    pub queue_id: String,
    /// Origins allowed to embed it (`https://shop.example`), one per line;
    /// empty allows any.
    pub allowed_origins: String,
    /// One of the tenant's receiving addresses; transcripts are sent from
    /// it. None: transcripts are not offered.
    pub transcript_from: Option<String>,
    pub greeting: String,
    pub updated_at: UnixMs,
}

#[derive(Debug, Clone, FromRow)]
pub struct ChatSession {
    pub token_sha256: String,
    #[sqlx(try_from = "String")]
    pub tenant_id: TenantId,
    pub widget_id: String,
    pub conversation_id: String,
    pub created_at: UnixMs,
}

impl Store {
    /// Creates or changes a widget.
    pub async fn put_chat_widget(&self, w: &ChatWidget, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let holder: Option<String> =
            sqlx::query_scalar::<Any, String>("SELECT tenant_id FROM chat_widgets WHERE id = $1")
                .bind(&w.id)
                .fetch_optional(&mut *tx)
                .await?;
        match holder {
            Some(t) if t != w.tenant_id.to_string() => return Err(StoreError::NotFound),
            Some(_) => {
                sqlx::query(
                    "UPDATE chat_widgets SET name = $1, queue_id = $2, allowed_origins = $3, transcript_from = $4, \
                     greeting = $5, updated_at = $6 WHERE id = $7 AND tenant_id = $8",
                )
                .bind(&w.name)
                .bind(&w.queue_id)
                .bind(&w.allowed_origins)
                .bind(w.transcript_from.clone())
                .bind(&w.greeting)
                .bind(w.updated_at)
                .bind(&w.id)
                .bind(w.tenant_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO chat_widgets (id, tenant_id, name, queue_id, allowed_origins, transcript_from, greeting, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&w.id)
                .bind(w.tenant_id.to_string())
                .bind(&w.name)
                .bind(&w.queue_id)
                .bind(&w.allowed_origins)
                .bind(w.transcript_from.clone())
                .bind(&w.greeting)
                .bind(w.updated_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        write_audit(
            &mut tx,
            w.tenant_id,
            who,
            "chat_widget.updated",
            "chat_widget",
            &w.id,
            json!({"queue_id": w.queue_id, "allowed_origins": w.allowed_origins, "transcript_from": w.transcript_from}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_chat_widget(
        &self,
        tenant: TenantId,
        id: &str,
        who: &AuditEntry,
    ) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let gone = sqlx::query("DELETE FROM chat_widgets WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            tenant,
            who,
            "chat_widget.deleted",
            "chat_widget",
            id,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_chat_widgets(&self, tenant: TenantId) -> Result<Vec<ChatWidget>> {
        Ok(sqlx::query_as::<Any, ChatWidget>(
            "SELECT * FROM chat_widgets WHERE tenant_id = $1 ORDER BY name, id LIMIT 1000",
        )
        .bind(tenant.to_string())
        .fetch_all(self.read())
        .await?)
    }

    /// A widget by its id, whichever tenant's it is (a web page names it).
    pub async fn find_chat_widget(&self, id: &str) -> Result<Option<ChatWidget>> {
        Ok(
            sqlx::query_as::<Any, ChatWidget>("SELECT * FROM chat_widgets WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(self.read())
                .await?,
        )
    }

    pub async fn insert_chat_session(&self, s: &ChatSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO chat_sessions (token_sha256, tenant_id, widget_id, conversation_id, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.token_sha256)
        .bind(s.tenant_id.to_string())
        .bind(&s.widget_id)
        .bind(&s.conversation_id)
        .bind(s.created_at)
        .execute(self.write())
        .await?;
        Ok(())
    }

    /// A session by the SHA-256 of its secret, whichever tenant's it is.
    pub async fn find_chat_session(&self, token_sha256: &str) -> Result<Option<ChatSession>> {
        Ok(sqlx::query_as::<Any, ChatSession>(
            "SELECT * FROM chat_sessions WHERE token_sha256 = $1",
        )
        .bind(token_sha256.to_owned())
        .fetch_optional(self.read())
        .await?)
    }
}
