//! Conversations as the inbox shows them: the same SQL in both dialects but the fixed
//! list statements, the view counts, the search and how the queue view is read.

/// Expands, in a backend's `views` module, to `ConversationStore` for `$store` (whose
/// database is `$db`), and to `push_visibility`. The module provides
/// `LIST_CONVERSATIONS` (the list statements by status filter + 2 × cursor),
/// `VIEW_COUNTS` (the counts statement around the agent's id), `view_from(query,
/// queue_view)` (the `FROM` of a view), `push_search(qb, search)` and an inherent `index_search`.
#[macro_export]
macro_rules! conversation_store {
    ($store:ty, $db:ty) => {
        pub(crate) use shared_conversations::push_visibility;

        mod shared_conversations {
            #![allow(unused_imports)]
            use super::*;
            use switchboard_domain::{AgentId, ConversationId, ConversationStatus};
            use switchboard_store::{
                AssigneeFilter, ConversationCursor, ConversationQuery, ConversationStore, ConversationView, Page, Result,
                ViewCounts, ViewCursor, ViewQuery, ViewSort, Visibility, WindowFilter, page_size,
            };
            use sqlx::QueryBuilder;

            use $crate::rows::ConversationRow;
            use $crate::{DbResultExt, Ts};

            #[$crate::reexport::async_trait]
            impl ConversationStore for $store {
                async fn list_conversations(&self, q: &ConversationQuery) -> Result<Page<ConversationView, ConversationCursor>> {
                    let limit = page_size(q.limit);
                    // $1 status, $2/$3 cursor, $4 limit; four fixed statements so each uses its index.
                    let sql = LIST_CONVERSATIONS[usize::from(q.status.is_some()) + 2 * usize::from(q.after.is_some())];
                    let rows: Vec<ConversationRow> = sqlx::query_as(sql)
                        .bind(q.status.map(|s| s.as_str()))
                        .bind(q.after.map(|a| Ts(a.last_message_at)))
                        .bind(q.after.map(|a| *a.id.as_uuid()))
                        .bind(i64::from(limit) + 1)
                        .fetch_all(self.pool())
                        .await
                        .db()?;
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<ConversationView>>>()?;
                    Ok(Page::from_fetch(items, limit, |c| ConversationCursor { last_message_at: c.last_message_at, id: c.id }))
                }

                async fn conversation(&self, id: ConversationId) -> Result<Option<ConversationView>> {
                    let row: Option<ConversationRow> = sqlx::query_as(concat!($crate::conversation_select!(), "WHERE c.id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(self.pool())
                        .await
                        .db()?;
                    row.map(TryInto::try_into).transpose()
                }

                async fn conversations_by_ids(
                    &self,
                    ids: &[ConversationId],
                ) -> Result<std::collections::HashMap<ConversationId, ConversationView>> {
                    let mut out = std::collections::HashMap::with_capacity(ids.len());
                    for chunk in ids.chunks(switchboard_store::ID_LIST_CHUNK) {
                        let uuids: Vec<uuid::Uuid> = chunk.iter().map(|id| *id.as_uuid()).collect();
                        let mut qb = QueryBuilder::<$db>::new(concat!($crate::conversation_select!(), "WHERE c.id IN "));
                        $crate::ids::push_ids(&mut qb, &uuids);
                        let rows: Vec<ConversationRow> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                        for row in rows {
                            let c = ConversationView::try_from(row)?;
                            out.insert(c.id, c);
                        }
                    }
                    Ok(out)
                }

                async fn view_conversations(&self, q: &ViewQuery) -> Result<Page<ConversationView, ViewCursor>> {
                    if q.search.is_some() {
                        self.index_search().await?;
                    }
                    let limit = page_size(q.limit);
                    let want = i64::from(limit) + 1;
                    let after = q.after.filter(|a| a.sort() == q.sort);
                    let mut rows = Vec::new();
                    if q.sort == ViewSort::Waiting {
                        // Waiting conversations first (the queue's order), then the others by id.
                        let in_waiting = !matches!(after, Some(ViewCursor::Waiting { waiting_since: None, .. }));
                        if in_waiting {
                            rows = fetch_view(self, q, after, Phase::Waiting, want).await?;
                        }
                        let got = i64::try_from(rows.len()).unwrap_or(i64::MAX);
                        if got < want {
                            let after_idle = if in_waiting { None } else { after };
                            rows.extend(fetch_view(self, q, after_idle, Phase::Idle, want - got).await?);
                        }
                    } else if q.sort == ViewSort::SlaDue {
                        // Conversations with an SLA due time first (soonest first), then the others by id.
                        let in_due = !matches!(after, Some(ViewCursor::SlaDue { due_at: None, .. }));
                        if in_due {
                            rows = fetch_view(self, q, after, Phase::Waiting, want).await?;
                        }
                        let got = i64::try_from(rows.len()).unwrap_or(i64::MAX);
                        if got < want {
                            let after_idle = if in_due { None } else { after };
                            rows.extend(fetch_view(self, q, after_idle, Phase::Idle, want - got).await?);
                        }
                    } else {
                        rows = fetch_view(self, q, after, Phase::Idle, want).await?;
                    }
                    let items = rows.into_iter().map(TryInto::try_into).collect::<Result<Vec<ConversationView>>>()?;
                    Ok(Page::from_fetch(items, limit, |c| ViewCursor::after(q.sort, c)))
                }

                async fn view_counts(&self, me: AgentId, viewer: Visibility) -> Result<ViewCounts> {
                    let mut qb = QueryBuilder::<$db>::new(VIEW_COUNTS[0]);
                    qb.push_bind(*me.as_uuid());
                    qb.push(VIEW_COUNTS[1]);
                    push_visibility(&mut qb, viewer);
                    let (mine, unassigned, queue, open, pending, snoozed): (i64, i64, i64, i64, i64, i64) =
                        qb.build_query_as().fetch_one(self.pool()).await.db()?;
                    let n = |v: i64| u64::try_from(v).unwrap_or(0);
                    Ok(ViewCounts {
                        mine: n(mine),
                        unassigned: n(unassigned),
                        queue: n(queue),
                        open: n(open),
                        pending: n(pending),
                        snoozed: n(snoozed),
                    })
                }

                async fn may_see_conversation(&self, viewer: Visibility, id: ConversationId) -> Result<bool> {
                    let mut qb = QueryBuilder::<$db>::new("SELECT EXISTS (SELECT 1 FROM conversations c WHERE c.id = ");
                    qb.push_bind(*id.as_uuid());
                    push_visibility(&mut qb, viewer);
                    qb.push(")");
                    qb.build_query_scalar().fetch_one(self.pool()).await.db()
                }

                async fn open_counts_by_team_and_label(&self, viewer: Visibility) -> Result<switchboard_store::GroupCounts> {
                    let n = |v: i64| u64::try_from(v).unwrap_or(0);
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT COALESCE(c.team_id, ch.team_id), COUNT(*) FROM conversations c \
                         JOIN channels ch ON ch.id = c.channel_id \
                         WHERE c.status = 'open' AND COALESCE(c.team_id, ch.team_id) IS NOT NULL",
                    );
                    push_visibility(&mut qb, viewer);
                    qb.push(" GROUP BY COALESCE(c.team_id, ch.team_id)");
                    let teams: Vec<(uuid::Uuid, i64)> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT cl.label_id, COUNT(*) FROM conversations c \
                         JOIN conversation_labels cl ON cl.conversation_id = c.id WHERE c.status = 'open'",
                    );
                    push_visibility(&mut qb, viewer);
                    qb.push(" GROUP BY cl.label_id");
                    let labels: Vec<(uuid::Uuid, i64)> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                    Ok(switchboard_store::GroupCounts {
                        teams: teams.into_iter().map(|(t, c)| (switchboard_store::TeamId::from_uuid(t), n(c))).collect(),
                        labels: labels.into_iter().map(|(l, c)| (switchboard_domain::LabelId::from_uuid(l), n(c))).collect(),
                    })
                }

                async fn last_messages(
                    &self,
                    conversations: &[ConversationId],
                ) -> Result<std::collections::HashMap<ConversationId, switchboard_store::LastMessage>> {
                    #[derive(sqlx::FromRow)]
                    struct Row {
                        conversation_id: uuid::Uuid,
                        direction: String,
                        kind: String,
                        text: Option<String>,
                    }
                    let mut out = std::collections::HashMap::new();
                    // One statement per page; each conversation's newest message is one
                    // step down the `messages_conversation (conversation_id, id)` index.
                    for chunk in conversations.chunks(500) {
                        let mut qb = QueryBuilder::<$db>::new(format!(
                            "SELECT m.conversation_id, m.direction, m.kind, substr(m.text, 1, {}) AS text                              FROM messages m WHERE m.id IN (SELECT (SELECT lm.id FROM messages lm                                WHERE lm.conversation_id = c.id ORDER BY lm.id DESC LIMIT 1)                              FROM conversations c WHERE c.id IN (",
                            switchboard_store::PREVIEW_CHARS
                        ));
                        let mut ids = qb.separated(", ");
                        for id in chunk {
                            ids.push_bind(*id.as_uuid());
                        }
                        qb.push("))");
                        let rows: Vec<Row> = qb.build_query_as().fetch_all(self.pool()).await.db()?;
                        for r in rows {
                            let corrupt = $crate::rows::corrupt;
                            out.insert(
                                ConversationId::from_uuid(r.conversation_id),
                                switchboard_store::LastMessage {
                                    direction: switchboard_domain::Direction::parse(&r.direction)
                                        .ok_or_else(|| corrupt(format!("direction {:?}", r.direction)))?,
                                    kind: switchboard_domain::MessageKind::parse(&r.kind)
                                        .ok_or_else(|| corrupt(format!("kind {:?}", r.kind)))?,
                                    text: r.text,
                                },
                            );
                        }
                    }
                    Ok(out)
                }
            }

            /// Which part of the waiting sort a query reads (the other sorts read one part).
            #[derive(Clone, Copy, PartialEq, Eq)]
            enum Phase {
                /// `waiting_since IS NOT NULL`, oldest first (for the SLA sort: `sla_due_at
                /// IS NOT NULL`, soonest first).
                Waiting,
                /// Everything else: for the waiting sort, `waiting_since IS NULL` by id (for
                /// the SLA sort, `sla_due_at IS NULL`).
                Idle,
            }

            async fn fetch_view(
                store: &$store,
                q: &ViewQuery,
                after: Option<ViewCursor>,
                phase: Phase,
                limit: i64,
            ) -> Result<Vec<ConversationRow>> {
                let queue_view = q.sort == ViewSort::Waiting
                    && phase == Phase::Waiting
                    && q.statuses == [ConversationStatus::Open]
                    && q.assignee == Some(AssigneeFilter::Unassigned);
                let mut qb = QueryBuilder::<$db>::new($crate::conversation_columns!());
                let sla_walk = q.sort == ViewSort::SlaDue && phase == Phase::Waiting;
                qb.push(view_from(q, queue_view, sla_walk));
                qb.push("JOIN contacts ct ON ct.id = c.contact_id JOIN channels ch ON ch.id = c.channel_id WHERE 1 = 1");
                push_filters(&mut qb, q);
                push_visibility(&mut qb, q.viewer);
                match (q.sort, phase) {
                    (ViewSort::Waiting, Phase::Waiting) => {
                        qb.push(" AND c.waiting_since IS NOT NULL");
                        if let Some(ViewCursor::Waiting { waiting_since: Some(w), id }) = after {
                            qb.push(" AND (c.waiting_since, c.id) > (").push_bind(Ts(w)).push(", ");
                            qb.push_bind(*id.as_uuid()).push(")");
                        }
                        qb.push(" ORDER BY c.waiting_since, c.id");
                    }
                    (ViewSort::Waiting, Phase::Idle) => {
                        qb.push(" AND c.waiting_since IS NULL");
                        if let Some(ViewCursor::Waiting { id, .. }) = after {
                            qb.push(" AND c.id > ").push_bind(*id.as_uuid());
                        }
                        qb.push(" ORDER BY c.id");
                    }
                    (ViewSort::LastActivity, _) => {
                        if let Some(ViewCursor::LastActivity { last_message_at, id }) = after {
                            qb.push(" AND (c.last_message_at, c.id) < (").push_bind(Ts(last_message_at)).push(", ");
                            qb.push_bind(*id.as_uuid()).push(")");
                        }
                        qb.push(" ORDER BY c.last_message_at DESC, c.id DESC");
                    }
                    (ViewSort::Newest, _) => {
                        if let Some(ViewCursor::Newest { created_at, id }) = after {
                            qb.push(" AND (c.created_at, c.id) < (").push_bind(Ts(created_at)).push(", ");
                            qb.push_bind(*id.as_uuid()).push(")");
                        }
                        qb.push(" ORDER BY c.created_at DESC, c.id DESC");
                    }
                    (ViewSort::SlaDue, Phase::Waiting) => {
                        qb.push(" AND c.sla_due_at IS NOT NULL");
                        if let Some(ViewCursor::SlaDue { due_at: Some(d), id }) = after {
                            qb.push(" AND (c.sla_due_at, c.id) > (").push_bind(Ts(d)).push(", ");
                            qb.push_bind(*id.as_uuid()).push(")");
                        }
                        qb.push(" ORDER BY c.sla_due_at, c.id");
                    }
                    (ViewSort::SlaDue, Phase::Idle) => {
                        qb.push(" AND c.sla_due_at IS NULL");
                        if let Some(ViewCursor::SlaDue { id, .. }) = after {
                            qb.push(" AND c.id > ").push_bind(*id.as_uuid());
                        }
                        qb.push(" ORDER BY c.id");
                    }
                    (ViewSort::WindowClosing, _) => {
                        qb.push(" AND c.window_closes_at > ").push_bind(Ts(q.now));
                        if let Some(ViewCursor::WindowClosing { window_closes_at, id }) = after {
                            qb.push(" AND (c.window_closes_at, c.id) > (").push_bind(Ts(window_closes_at)).push(", ");
                            qb.push_bind(*id.as_uuid()).push(")");
                        }
                        qb.push(" ORDER BY c.window_closes_at, c.id");
                    }
                }
                qb.push(" LIMIT ").push_bind(limit);
                qb.build_query_as().fetch_all(store.pool()).await.db()
            }

            /// The view's filters, as ` AND …` terms on `c` (conversations).
            fn push_filters(qb: &mut QueryBuilder<'_, $db>, q: &ViewQuery) {
                // Statuses are literals (a closed set) so the planner can match partial indexes.
                match q.statuses.as_slice() {
                    [] => {}
                    [one] => {
                        qb.push(format_args!(" AND c.status = '{}'", one.as_str()));
                    }
                    many => {
                        let list: Vec<String> = many.iter().map(|s| format!("'{}'", s.as_str())).collect();
                        qb.push(format_args!(" AND c.status IN ({})", list.join(", ")));
                    }
                }
                match q.assignee {
                    None => {}
                    Some(AssigneeFilter::Unassigned) => {
                        qb.push(" AND c.assignee_id IS NULL");
                    }
                    Some(AssigneeFilter::Agent(a)) => {
                        qb.push(" AND c.assignee_id = ").push_bind(*a.as_uuid());
                    }
                }
                if let Some(team) = q.team {
                    // Its effective team: transferred to it, or following a channel routed to it.
                    qb.push(" AND (c.team_id = ").push_bind(*team.as_uuid());
                    qb.push(" OR (c.team_id IS NULL AND c.channel_id IN (SELECT tch.id FROM channels tch WHERE tch.team_id = ");
                    qb.push_bind(*team.as_uuid()).push(")))");
                }
                for label in &q.labels {
                    qb.push(" AND EXISTS (SELECT 1 FROM conversation_labels cl WHERE cl.conversation_id = c.id AND cl.label_id = ");
                    qb.push_bind(*label.as_uuid()).push(")");
                }
                if let Some(channel) = q.channel {
                    qb.push(" AND c.channel_id = ").push_bind(*channel.as_uuid());
                }
                if let Some(contact) = q.contact {
                    qb.push(" AND c.contact_id = ").push_bind(*contact.as_uuid());
                }
                match q.window {
                    None => {}
                    Some(WindowFilter::Open) => {
                        qb.push(" AND c.window_closes_at > ").push_bind(Ts(q.now));
                    }
                    Some(WindowFilter::Closed) => {
                        qb.push(" AND (c.window_closes_at IS NULL OR c.window_closes_at <= ").push_bind(Ts(q.now)).push(")");
                    }
                }
                if let Some(search) = &q.search {
                    push_search(qb, search);
                }
            }

            /// Restricts `c` (conversations) to what `viewer` may see: admins everything; an agent
            /// what is assigned to them, or whose effective team (the team it was transferred
            /// to, else its channel's) is one of theirs or none.
            pub(crate) fn push_visibility(qb: &mut QueryBuilder<'_, $db>, viewer: Visibility) {
                if let Visibility::Agent(agent) = viewer {
                    qb.push(" AND (c.assignee_id = ").push_bind(*agent.as_uuid());
                    qb.push(" OR c.team_id IN (SELECT vtm.team_id FROM team_members vtm WHERE vtm.agent_id = ");
                    qb.push_bind(*agent.as_uuid());
                    qb.push(
                        ") OR (c.team_id IS NULL AND c.channel_id IN (SELECT vch.id FROM channels vch WHERE vch.team_id IS NULL \
                           OR vch.team_id IN (SELECT vtm.team_id FROM team_members vtm WHERE vtm.agent_id = ",
                    );
                    qb.push_bind(*agent.as_uuid()).push("))))");
                }
            }
        }
    };
}
