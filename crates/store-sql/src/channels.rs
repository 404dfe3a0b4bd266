//! Channels as admins manage them (`ChannelStore`): the same SQL in both dialects.

/// Expands, in a backend's `channels` module, to `ChannelStore` for `$store` (whose
/// connection is `$conn`).
#[macro_export]
macro_rules! channel_store {
    ($store:ty, $conn:ty) => {
        use chrono::{DateTime, Utc};
        use switchboard_domain::link::PhoneNumber;
        use switchboard_domain::{ChannelId, PhoneNumberId};
        use switchboard_store::{
            ChannelPatch, ChannelRecord, ChannelStore, NewChannel, Result, SealedSecret, StoreError, StoredTemplate,
            TemplateUpdate,
        };
        use uuid::Uuid;

        use $crate::rows::corrupt;
        use $crate::{DbResultExt, Int, Ts, opt_time};

        const CHANNEL_COLUMNS: &str = "id, phone_number_id, name, display_phone_number, waba_id, enabled, \
             access_token, access_token_key_id, app_secret, app_secret_key_id, throughput_per_second, created_at, \
             updated_at";

        #[derive(sqlx::FromRow)]
        struct ChannelRecordRow {
            id: Uuid,
            phone_number_id: String,
            name: String,
            display_phone_number: Option<String>,
            waba_id: Option<String>,
            enabled: bool,
            access_token: Option<Vec<u8>>,
            access_token_key_id: Option<String>,
            app_secret: Option<Vec<u8>>,
            app_secret_key_id: Option<String>,
            throughput_per_second: Option<Int>,
            created_at: Ts,
            updated_at: Option<Ts>,
        }

        fn sealed(sealed: Option<Vec<u8>>, key_id: Option<String>) -> Option<SealedSecret> {
            match (sealed, key_id) {
                (Some(sealed), Some(key_id)) => Some(SealedSecret { key_id, sealed }),
                _ => None,
            }
        }

        impl TryFrom<ChannelRecordRow> for ChannelRecord {
            type Error = StoreError;
            fn try_from(r: ChannelRecordRow) -> Result<Self> {
                Ok(Self {
                    id: ChannelId::from_uuid(r.id),
                    phone_number_id: PhoneNumberId::parse(&r.phone_number_id).map_err(corrupt)?,
                    name: r.name,
                    display_phone_number: r.display_phone_number,
                    waba_id: r.waba_id,
                    enabled: r.enabled,
                    access_token: sealed(r.access_token, r.access_token_key_id),
                    app_secret: sealed(r.app_secret, r.app_secret_key_id),
                    throughput_per_second: r
                        .throughput_per_second
                        .map(|n| u32::try_from(n.0).map_err(corrupt))
                        .transpose()?,
                    created_at: r.created_at.0,
                    updated_at: opt_time(r.updated_at),
                })
            }
        }

        async fn channel_record(conn: &mut $conn, id: ChannelId) -> Result<Option<ChannelRecord>> {
            let row: Option<ChannelRecordRow> =
                sqlx::query_as(&format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1"))
                    .bind(id.as_uuid())
                    .fetch_optional(conn)
                    .await
                    .db()?;
            row.map(TryInto::try_into).transpose()
        }

        #[derive(sqlx::FromRow)]
        struct TemplateRow {
            name: String,
            language: String,
            template_id: Option<String>,
            category: String,
            status: String,
            quality: Option<String>,
            components: String,
            synced_at: Ts,
        }

        impl TryFrom<TemplateRow> for StoredTemplate {
            type Error = StoreError;
            fn try_from(r: TemplateRow) -> Result<Self> {
                Ok(Self {
                    name: r.name,
                    language: r.language,
                    template_id: r.template_id,
                    category: r.category,
                    status: r.status,
                    quality: r.quality,
                    components: serde_json::from_str(&r.components).map_err(corrupt)?,
                    synced_at: r.synced_at.0,
                })
            }
        }

        #[$crate::reexport::async_trait]
        impl ChannelStore for $store {
            async fn channel_records(&self) -> Result<Vec<ChannelRecord>> {
                let rows: Vec<ChannelRecordRow> =
                    sqlx::query_as(&format!("SELECT {CHANNEL_COLUMNS} FROM channels ORDER BY created_at, id"))
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn channel_record(&self, id: ChannelId) -> Result<Option<ChannelRecord>> {
                let mut conn = self.pool().acquire().await.db()?;
                channel_record(&mut conn, id).await
            }

            async fn create_channel(&self, c: &NewChannel) -> Result<ChannelRecord> {
                let mut w = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO channels (id, phone_number_id, name, display_phone_number, waba_id, enabled, \
                         access_token, access_token_key_id, app_secret, app_secret_key_id, throughput_per_second, \
                         created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                )
                .bind(c.id.as_uuid())
                .bind(c.phone_number_id.as_str())
                .bind(c.name.as_str())
                .bind(c.display_phone_number.as_ref().map(PhoneNumber::digits))
                .bind(c.waba_id.as_ref().map(|w| w.as_str()))
                .bind(c.enabled)
                .bind(c.access_token.as_ref().map(|s| &s.sealed))
                .bind(c.access_token.as_ref().map(|s| &s.key_id))
                .bind(c.app_secret.as_ref().map(|s| &s.sealed))
                .bind(c.app_secret.as_ref().map(|s| &s.key_id))
                .bind(c.throughput.map(|t| i64::from(t.get())))
                .bind(Ts(c.at))
                .execute(w.conn())
                .await
                .db()?;
                let created = channel_record(w.conn(), c.id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(created)
            }

            async fn update_channel(
                &self,
                id: ChannelId,
                p: &ChannelPatch,
                at: DateTime<Utc>,
            ) -> Result<ChannelRecord> {
                let mut w = self.begin_write().await?;
                // `$n IS TRUE`: whether the field is patched; the value beside it (NULL
                // clears it).
                let n = sqlx::query(
                    "UPDATE channels SET \
                         name = COALESCE($2, name), \
                         display_phone_number = CASE WHEN $3 THEN $4 ELSE display_phone_number END, \
                         waba_id = CASE WHEN $5 THEN $6 ELSE waba_id END, \
                         enabled = COALESCE($7, enabled), \
                         access_token = CASE WHEN $8 THEN $9 ELSE access_token END, \
                         access_token_key_id = CASE WHEN $8 THEN $10 ELSE access_token_key_id END, \
                         app_secret = CASE WHEN $11 THEN $12 ELSE app_secret END, \
                         app_secret_key_id = CASE WHEN $11 THEN $13 ELSE app_secret_key_id END, \
                         throughput_per_second = CASE WHEN $14 THEN $15 ELSE throughput_per_second END, \
                         updated_at = $16 \
                     WHERE id = $1",
                )
                .bind(id.as_uuid())
                .bind(p.name.as_ref().map(|n| n.as_str()))
                .bind(p.display_phone_number.is_some())
                .bind(p.display_phone_number.as_ref().and_then(|d| d.as_ref().map(PhoneNumber::digits)))
                .bind(p.waba_id.is_some())
                .bind(p.waba_id.as_ref().and_then(|w| w.as_ref().map(|w| w.as_str())))
                .bind(p.enabled)
                .bind(p.access_token.is_some())
                .bind(p.access_token.as_ref().and_then(|s| s.as_ref().map(|s| s.sealed.clone())))
                .bind(p.access_token.as_ref().and_then(|s| s.as_ref().map(|s| s.key_id.clone())))
                .bind(p.app_secret.is_some())
                .bind(p.app_secret.as_ref().and_then(|s| s.as_ref().map(|s| s.sealed.clone())))
                .bind(p.app_secret.as_ref().and_then(|s| s.as_ref().map(|s| s.key_id.clone())))
                .bind(p.throughput.is_some())
                .bind(p.throughput.and_then(|t| t.map(|t| i64::from(t.get()))))
                .bind(Ts(at))
                .execute(w.conn())
                .await
                .db()?
                .rows_affected();
                if n == 0 {
                    return Err(StoreError::NotFound);
                }
                if p.enabled.is_some() {
                    sqlx::query("UPDATE auto_reply_version SET version = version + 1 WHERE id = 1")
                        .execute(w.conn())
                        .await
                        .db()?;
                }
                let updated = channel_record(w.conn(), id).await?.ok_or(StoreError::NotFound)?;
                w.commit().await?;
                Ok(updated)
            }

            async fn learn_display_phone_number(
                &self,
                phone_number_id: &PhoneNumberId,
                phone: &PhoneNumber,
            ) -> Result<bool> {
                let mut w = self.write_conn().await?;
                let n = sqlx::query(
                    "UPDATE channels SET display_phone_number = $1 \
                     WHERE phone_number_id = $2 AND display_phone_number IS NULL",
                )
                .bind(phone.digits())
                .bind(phone_number_id.as_str())
                .execute(&mut *w)
                .await
                .db()?;
                Ok(n.rows_affected() > 0)
            }

            async fn replace_templates(&self, channel: ChannelId, templates: &[StoredTemplate]) -> Result<()> {
                let mut w = self.begin_write().await?;
                sqlx::query("DELETE FROM message_templates WHERE channel_id = $1")
                    .bind(channel.as_uuid())
                    .execute(w.conn())
                    .await
                    .db()?;
                for t in templates {
                    sqlx::query(
                        "INSERT INTO message_templates (channel_id, name, language, template_id, category, status, \
                             quality, components, synced_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (channel_id, name, language) DO NOTHING",
                    )
                    .bind(channel.as_uuid())
                    .bind(&t.name)
                    .bind(&t.language)
                    .bind(t.template_id.as_deref())
                    .bind(&t.category)
                    .bind(&t.status)
                    .bind(t.quality.as_deref())
                    .bind(t.components.to_string())
                    .bind(Ts(t.synced_at))
                    .execute(w.conn())
                    .await
                    .db()?;
                }
                w.commit().await
            }

            async fn templates(&self, channel: ChannelId) -> Result<Vec<StoredTemplate>> {
                let rows: Vec<TemplateRow> = sqlx::query_as(
                    "SELECT name, language, template_id, category, status, quality, components, synced_at \
                     FROM message_templates WHERE channel_id = $1 ORDER BY name, language",
                )
                .bind(channel.as_uuid())
                .fetch_all(self.pool())
                .await
                .db()?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn has_templates(&self, channel: ChannelId) -> Result<bool> {
                let row: Option<(Int,)> = sqlx::query_as("SELECT 1 FROM message_templates WHERE channel_id = $1 LIMIT 1")
                    .bind(channel.as_uuid())
                    .fetch_optional(self.pool())
                    .await
                    .db()?;
                Ok(row.is_some())
            }

            async fn apply_template_update(&self, u: &TemplateUpdate, at: DateTime<Utc>) -> Result<u64> {
                let mut w = self.write_conn().await?;
                let n = sqlx::query(
                    "UPDATE message_templates SET \
                         status = COALESCE($1, status), \
                         quality = COALESCE($2, quality), \
                         category = COALESCE($3, category), \
                         template_id = COALESCE(template_id, $4), \
                         synced_at = $5 \
                     WHERE ($4 IS NOT NULL AND template_id = $4) \
                        OR (name = $6 AND language = $7 \
                            AND ($4 IS NULL OR template_id IS NULL) \
                            AND channel_id IN (SELECT id FROM channels WHERE waba_id = $8))",
                )
                .bind(u.status.as_deref())
                .bind(u.quality.as_deref())
                .bind(u.category.as_deref())
                .bind(u.template_id.as_deref())
                .bind(Ts(at))
                .bind(u.name.as_deref())
                .bind(u.language.as_deref())
                .bind(u.waba_id.as_deref())
                .execute(&mut *w)
                .await
                .db()?;
                Ok(n.rows_affected())
            }
        }
    };
}
