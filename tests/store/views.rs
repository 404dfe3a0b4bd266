//! Inbox views: every filter and sort, keyset pagination without gaps or duplicates,
//! counts per view, agent visibility, and text search in several scripts.

use std::sync::Arc;

use switchboard_tests::{Backend, TestDb};

use chrono::{DateTime, Duration, Utc};
use switchboard_domain::label::{LabelColour, LabelName};
use switchboard_domain::{AgentId, AgentRole, ChannelId, ConversationId, ConversationStatus, MessageContent};
use switchboard_store::{
    AssigneeFilter, Assignment, InboundOutcome, NewLabel, NewOutboundMessage, NewToken, StatusChange, Store, TeamName,
    ViewCounts, ViewQuery, ViewSort, Visibility, WindowFilter,
};

use crate::agents_admin::{new_agent, token};
use crate::fixtures::{apply, channel, contact, exec, t, text, uuid_literal};

conformance!(
    stories: [
        views_filter_sort_and_count_what_the_viewer_may_see,
        every_sort_pages_without_gaps_or_duplicates,
        text_search_finds_names_numbers_and_messages_in_any_script,
    ],
    with_db: [
        the_search_index_follows_rewritten_and_deleted_messages,
        the_search_index_is_exact_for_rows_changed_before_it_caught_up_and_reused_rowids,
    ],
);

pub async fn agent(store: &dyn Store, n: u8, role: AgentRole) -> AgentId {
    let new = new_agent(&format!("Agent {n}"), &format!("agent{n}@example.com"), role);
    let a = store.create_agent_with(&new, None, &NewToken { hash: &token(n), name: None }, t(0)).await.unwrap().agent;
    a.id
}

/// A customer writes `body` at `at`; the window closes 24 hours later.
pub async fn conversation(
    store: &dyn Store,
    channel: ChannelId,
    wa_id: &str,
    name: &str,
    body: &str,
    at: DateTime<Utc>,
) -> ConversationId {
    let c = contact(wa_id, Some(name));
    let wamid = format!("wamid.{wa_id}.{}", at.timestamp());
    match apply(store, channel, &c, &text(&wamid, &c, at, body), Some(at + Duration::hours(24))).await {
        InboundOutcome::Stored { conversation_id, .. } => conversation_id,
        InboundOutcome::Duplicate => panic!("duplicate"),
    }
}

async fn ids(store: &dyn Store, q: &ViewQuery) -> Vec<ConversationId> {
    let page = store.view_conversations(q).await.unwrap();
    assert!(page.next.is_none(), "one page expected");
    page.items.iter().map(|c| c.id).collect()
}

/// Every page of the view, `limit` at a time.
async fn all_pages(store: &dyn Store, q: &ViewQuery, limit: u32) -> Vec<ConversationId> {
    let mut q = q.clone();
    q.limit = limit;
    q.after = None;
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = store.view_conversations(&q).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        out.extend(page.items.iter().map(|c| c.id));
        match page.next {
            Some(c) => q.after = Some(c),
            None => return out,
        }
    }
    panic!("too many pages");
}

/// The scene: channel A (no team) and B (routed to team T); agent X in no team, Y in T.
struct Scene {
    x: AgentId,
    y: AgentId,
    b: ChannelId,
    team: switchboard_store::TeamId,
    /// c1 (A, t10, assigned to Y), c2 (A, t5), c3 (B, t20), c4 (A, t30, answered by Y at
    /// t31), c5 (A, t40, pending).
    c: [ConversationId; 5],
    labels: [switchboard_domain::LabelId; 2],
}

async fn scene(s: &dyn Store) -> Scene {
    let x = agent(s, 1, AgentRole::Agent).await;
    let y = agent(s, 2, AgentRole::Agent).await;
    let a = channel(s, "106540352242922").await.id;
    let b = channel(s, "106540352242923").await.id;
    let team = s.create_team(&TeamName::parse("Berlin").unwrap(), t(0)).await.unwrap().id;
    s.add_team_member(team, y, t(0)).await.unwrap();
    s.route_channel(b, Some(team)).await.unwrap();
    let c1 = conversation(s, a, "16505550001", "José Álvarez", "hola", t(10)).await;
    let c2 = conversation(s, a, "16505550002", "प्रिया शर्मा", "hello", t(5)).await;
    let c3 = conversation(s, b, "16505550333", "Jonas", "Wo ist meine Bestellung?", t(20)).await;
    let c4 = conversation(s, a, "16505550004", "Ravi", "नमस्ते, मेरा ऑर्डर कहाँ है", t(30)).await;
    let c5 = conversation(s, a, "16505550005", "Chloé", "Où est ma commande ?", t(40)).await;
    s.assign(&Assignment { conversation: c1, agent: Some(y), actor: None, respect_capacity: false, at: t(11) })
        .await
        .unwrap();
    s.insert_outbound(&NewOutboundMessage {
        conversation_id: c4,
        content: MessageContent::Text { body: "Checking".into() },
        state: switchboard_domain::DeliveryState::Queued,
        wamid: None,
        sent_by: Some(y),
        at: t(31),
    })
    .await
    .unwrap();
    s.set_status(&StatusChange {
        conversation: c5,
        status: ConversationStatus::Pending,
        snoozed_until: None,
        actor: None,
        at: t(41),
    })
    .await
    .unwrap();
    let mut labels = Vec::new();
    for name in ["vip", "refund"] {
        let l = s
            .create_label(&NewLabel {
                name: LabelName::parse(name).unwrap(),
                colour: LabelColour::parse("#ff0000").unwrap(),
                description: None,
                at: t(0),
            })
            .await
            .unwrap();
        labels.push(l.id);
    }
    s.add_conversation_labels(c1, &[labels[0]], None, t(12)).await.unwrap();
    s.add_conversation_labels(c2, &[labels[0], labels[1]], None, t(12)).await.unwrap();
    Scene { x, y, b, team, c: [c1, c2, c3, c4, c5], labels: [labels[0], labels[1]] }
}

/// 24 hours and 15 seconds after t(0): windows of messages after t(15) are open.
fn now() -> DateTime<Utc> {
    t(15) + Duration::hours(24)
}

async fn views_filter_sort_and_count_what_the_viewer_may_see(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let Scene { x, y, b, team, c: [c1, c2, c3, c4, c5], labels } = scene(s).await;
    let all = ViewQuery::new(Visibility::All, now());

    // The queue: open, unassigned, longest waiting first; c4 (answered) after.
    let queue = ViewQuery {
        statuses: vec![ConversationStatus::Open],
        assignee: Some(AssigneeFilter::Unassigned),
        sort: ViewSort::Waiting,
        ..all.clone()
    };
    assert_eq!(ids(s, &queue).await, [c2, c3, c4]);
    let view = ids(s, &ViewQuery { viewer: Visibility::Agent(x), ..queue.clone() }).await;
    assert_eq!(view, [c2, c4], "X is not in the team channel B is routed to");
    assert_eq!(ids(s, &ViewQuery { viewer: Visibility::Agent(y), ..queue.clone() }).await, [c2, c3, c4]);

    // Last activity (the default), newest first.
    assert_eq!(ids(s, &all).await, [c5, c4, c3, c1, c2]);
    assert_eq!(ids(s, &ViewQuery { viewer: Visibility::Agent(x), ..all.clone() }).await, [c5, c4, c1, c2]);
    // An agent sees what is assigned to them even on a channel of another team.
    s.assign(&Assignment { conversation: c3, agent: Some(x), actor: None, respect_capacity: false, at: t(50) })
        .await
        .unwrap();
    assert_eq!(ids(s, &ViewQuery { viewer: Visibility::Agent(x), ..all.clone() }).await, [c5, c4, c3, c1, c2]);
    assert!(s.may_see_conversation(Visibility::Agent(x), c3).await.unwrap());
    s.assign(&Assignment { conversation: c3, agent: None, actor: None, respect_capacity: false, at: t(51) })
        .await
        .unwrap();
    assert!(!s.may_see_conversation(Visibility::Agent(x), c3).await.unwrap());
    assert!(s.may_see_conversation(Visibility::Agent(y), c3).await.unwrap());
    assert!(s.may_see_conversation(Visibility::All, c3).await.unwrap());
    assert!(!s.may_see_conversation(Visibility::All, ConversationId::new()).await.unwrap());

    // Filters.
    let status = |st: Vec<ConversationStatus>| ViewQuery { statuses: st, ..all.clone() };
    assert_eq!(ids(s, &status(vec![ConversationStatus::Pending])).await, [c5]);
    assert_eq!(ids(s, &status(vec![ConversationStatus::Pending, ConversationStatus::Open])).await.len(), 5);
    assert!(ids(s, &status(vec![ConversationStatus::Resolved])).await.is_empty());
    assert_eq!(ids(s, &ViewQuery { assignee: Some(AssigneeFilter::Agent(y)), ..all.clone() }).await, [c1]);
    assert_eq!(
        ids(s, &ViewQuery { assignee: Some(AssigneeFilter::Unassigned), ..all.clone() }).await,
        [c5, c4, c3, c2]
    );
    assert_eq!(ids(s, &ViewQuery { team: Some(team), ..all.clone() }).await, [c3]);
    assert_eq!(ids(s, &ViewQuery { channel: Some(b), ..all.clone() }).await, [c3]);
    assert_eq!(ids(s, &ViewQuery { labels: vec![labels[0]], ..all.clone() }).await, [c1, c2]);
    assert_eq!(ids(s, &ViewQuery { labels: labels.to_vec(), ..all.clone() }).await, [c2], "all of the labels");
    assert_eq!(ids(s, &ViewQuery { window: Some(WindowFilter::Open), ..all.clone() }).await, [c5, c4, c3]);
    assert_eq!(ids(s, &ViewQuery { window: Some(WindowFilter::Closed), ..all.clone() }).await, [c1, c2]);
    let contact_id = s.conversation(c4).await.unwrap().unwrap().contact.id;
    assert_eq!(ids(s, &ViewQuery { contact: Some(contact_id), ..all.clone() }).await, [c4]);

    // Window closing soonest, open windows only.
    assert_eq!(ids(s, &ViewQuery { sort: ViewSort::WindowClosing, ..all.clone() }).await, [c3, c4, c5]);
    // Newest conversation first.
    assert_eq!(ids(s, &ViewQuery { sort: ViewSort::Newest, ..all.clone() }).await, [c5, c4, c3, c1, c2]);
    // Waiting, every status: waiting ones by waiting_since (c1 t10 is assigned but
    // waiting; c5 pending, waiting since t40), then the others.
    assert_eq!(ids(s, &ViewQuery { sort: ViewSort::Waiting, ..all.clone() }).await, [c2, c1, c3, c5, c4]);

    // The view's rows carry the queue fields.
    let v = s.conversation(c1).await.unwrap().unwrap();
    assert_eq!((v.waiting_since, v.team_id, v.assignee_id), (Some(t(10)), None, Some(y)));
    assert_eq!(s.conversation(c3).await.unwrap().unwrap().team_id, Some(team));

    // Counts.
    let counts = s.view_counts(y, Visibility::All).await.unwrap();
    assert_eq!(counts, ViewCounts { mine: 1, unassigned: 3, queue: 2, open: 4, pending: 1, snoozed: 0 });
    let counts = s.view_counts(x, Visibility::Agent(x)).await.unwrap();
    assert_eq!(counts, ViewCounts { mine: 0, unassigned: 2, queue: 1, open: 3, pending: 1, snoozed: 0 });
    s.set_status(&StatusChange {
        conversation: c2,
        status: ConversationStatus::Snoozed,
        snoozed_until: Some(t(100_000)),
        actor: None,
        at: t(60),
    })
    .await
    .unwrap();
    let counts = s.view_counts(x, Visibility::Agent(x)).await.unwrap();
    assert_eq!(counts, ViewCounts { mine: 0, unassigned: 1, queue: 0, open: 2, pending: 1, snoozed: 1 });
    assert_eq!(s.conversation(c2).await.unwrap().unwrap().snoozed_until, Some(t(100_000)));
}

async fn every_sort_pages_without_gaps_or_duplicates(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, "106540352242922").await.id;
    let y = agent(s, 2, AgentRole::Agent).await;
    let mut convs = Vec::new();
    // Equal times on purpose (ties are broken by id); every third one answered (not
    // waiting), so the waiting sort crosses from waiting to not waiting mid-page.
    for i in 0..23_i64 {
        let c = conversation(s, ch, &format!("1650555{i:04}"), "Customer", "hi", t(i / 3)).await;
        if i % 3 == 0 {
            s.insert_outbound(&NewOutboundMessage {
                conversation_id: c,
                content: MessageContent::Text { body: "ok".into() },
                state: switchboard_domain::DeliveryState::Queued,
                wamid: None,
                sent_by: Some(y),
                at: t(10 + i / 4),
            })
            .await
            .unwrap();
        }
        convs.push(c);
    }
    let mut sorted = convs.clone();
    sorted.sort();
    for sort in [ViewSort::Waiting, ViewSort::LastActivity, ViewSort::WindowClosing, ViewSort::Newest] {
        let q = ViewQuery { sort, now: t(0), limit: 500, ..ViewQuery::new(Visibility::All, t(0)) };
        let whole = ids(s, &q).await;
        assert_eq!(whole.len(), 23, "{sort:?}");
        for limit in [1, 2, 5, 7, 22, 23] {
            let paged = all_pages(s, &q, limit).await;
            assert_eq!(paged, whole, "{sort:?} by {limit}");
        }
        let mut set = whole.clone();
        set.sort();
        assert_eq!(set, sorted, "{sort:?}");
    }
    // The waiting sort: the 15 waiting first, the 8 answered after.
    let q = ViewQuery { sort: ViewSort::Waiting, ..ViewQuery::new(Visibility::All, t(0)) };
    let page = s.view_conversations(&ViewQuery { limit: 500, ..q }).await.unwrap();
    let waiting: Vec<bool> = page.items.iter().map(|c| c.waiting_since.is_some()).collect();
    assert_eq!(waiting.iter().filter(|w| **w).count(), 15);
    assert!(waiting.windows(2).all(|w| w[0] || !w[1]), "waiting ones come first: {waiting:?}");
}

async fn text_search_finds_names_numbers_and_messages_in_any_script(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let Scene { x, c: [c1, c2, c3, c4, c5], .. } = scene(s).await;
    let all = ViewQuery::new(Visibility::All, now());
    let search = |q: &str| ViewQuery { search: Some(q.to_owned()), ..all.clone() };
    // Contact names, case-insensitively, accented and in Devanagari.
    assert_eq!(ids(s, &search("ÁLVAREZ")).await, [c1]);
    assert_eq!(ids(s, &search("josé")).await, [c1]);
    assert_eq!(ids(s, &search("प्रिया")).await, [c2]);
    // Numbers, by any part.
    assert_eq!(ids(s, &search("5550333")).await, [c3]);
    // Message text.
    assert_eq!(ids(s, &search("bestellung")).await, [c3]);
    assert_eq!(ids(s, &search("ऑर्डर")).await, [c4]);
    assert_eq!(ids(s, &search("où est")).await, [c5]);
    assert_eq!(ids(s, &search("Checking")).await, [c4], "our messages too");
    assert!(ids(s, &search("nowhere to be found")).await.is_empty());
    // Quotes and LIKE wildcards are text.
    assert!(ids(s, &search("\"%_\"")).await.is_empty());
    assert!(ids(s, &search("10%")).await.is_empty());
    // Search respects visibility and the other filters.
    assert!(ids(s, &ViewQuery { viewer: Visibility::Agent(x), ..search("bestellung") }).await.is_empty());
    let open = ViewQuery { statuses: vec![ConversationStatus::Pending], ..search("commande") };
    assert_eq!(ids(s, &open).await, [c5]);
    let open = ViewQuery { statuses: vec![ConversationStatus::Open], ..search("commande") };
    assert!(ids(s, &open).await.is_empty());
    // A new message is found at once.
    conversation(
        s,
        channel(s, "106540352242922").await.id,
        "16505550002",
        "प्रिया शर्मा",
        "Zahlung fehlgeschlagen",
        t(70),
    )
    .await;
    assert_eq!(ids(s, &search("fehlgeschlagen")).await, [c2]);
}

async fn the_search_index_follows_rewritten_and_deleted_messages(db: &TestDb, store: Arc<dyn Store>) {
    let s = store.as_ref();
    let ch = channel(s, "106540352242922").await.id;
    let c = conversation(s, ch, "16505550001", "Ana", "REF-ABC123 I want the blue one", t(1)).await;
    let other = conversation(s, ch, "16505550002", "Bo", "the blue one too", t(2)).await;
    let all = ViewQuery::new(Visibility::All, now());
    let search = |q: &str| ViewQuery { search: Some(q.to_owned()), ..all.clone() };
    assert_eq!(ids(s, &search("ABC123")).await, [c]);
    // The text agents see is rewritten (as a click-to-chat code is hidden).
    let id = uuid_literal(db, c.as_uuid());
    exec(db, &format!("UPDATE messages SET text = 'I want the red one' WHERE conversation_id = {id}")).await;
    assert!(ids(s, &search("ABC123")).await.is_empty());
    assert_eq!(ids(s, &search("red one")).await, [c]);
    // Deleted messages leave the index.
    exec(db, &format!("DELETE FROM messages WHERE conversation_id = {id}")).await;
    assert!(ids(s, &search("red one")).await.is_empty());
    assert_eq!(ids(s, &search("blue one")).await, [other]);
    if db.backend == Backend::Sqlite {
        // The index and its content table agree.
        exec(db, "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").await;
        exec(db, "INSERT INTO contacts_fts (contacts_fts, rank) VALUES ('integrity-check', 1)").await;
    }
}

/// SQLite indexes search in bulk, after the rows are stored: rows changed or deleted
/// before a pass, and a rowid reused below the indexed mark, must leave the index exact.
async fn the_search_index_is_exact_for_rows_changed_before_it_caught_up_and_reused_rowids(
    db: &TestDb,
    store: Arc<dyn Store>,
) {
    let s = store.as_ref();
    let ch = channel(s, "106540352242922").await.id;
    let all = ViewQuery::new(Visibility::All, now());
    let search = |q: &str| ViewQuery { search: Some(q.to_owned()), ..all.clone() };
    // Stored, then rewritten and another deleted, all before any search.
    let a = conversation(s, ch, "16505550001", "Ana", "first words", t(1)).await;
    let gone = conversation(s, ch, "16505550009", "Gil", "vanished words", t(2)).await;
    exec(
        db,
        &format!("UPDATE messages SET text = 'second words' WHERE conversation_id = {}", uuid_literal(db, a.as_uuid())),
    )
    .await;
    exec(db, &format!("DELETE FROM messages WHERE conversation_id = {}", uuid_literal(db, gone.as_uuid()))).await;
    assert_eq!(ids(s, &search("second words")).await, [a]);
    assert!(ids(s, &search("first words")).await.is_empty());
    assert!(ids(s, &search("vanished")).await.is_empty());
    // Indexed, then the newest message deleted: the next one reuses its rowid, at or below
    // the indexed mark, and is found all the same.
    let b = conversation(s, ch, "16505550002", "Bo", "blue words", t(3)).await;
    assert_eq!(ids(s, &search("blue words")).await, [b]);
    exec(db, &format!("DELETE FROM messages WHERE conversation_id = {}", uuid_literal(db, b.as_uuid()))).await;
    let c = conversation(s, ch, "16505550003", "Cy", "green words", t(4)).await;
    assert_eq!(ids(s, &search("green words")).await, [c]);
    assert!(ids(s, &search("blue words")).await.is_empty());
    assert_eq!(ids(s, &search("words")).await.len(), 2);
    if db.backend == Backend::Sqlite {
        exec(db, "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)").await;
        exec(db, "INSERT INTO contacts_fts (contacts_fts, rank) VALUES ('integrity-check', 1)").await;
    }
}
