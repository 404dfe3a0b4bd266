//! Click-to-chat links: creation rules, lists, changes, clicks, attribution and stats.

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use switchboard_domain::link::{AgentFamily, PhoneNumber, RefCode, RefFormat, Slug};
use switchboard_domain::message::Referral;
use switchboard_domain::{ChannelId, ConversationId, LabelId, LinkId, MessageContent, MessageId};
use switchboard_store::{
    Attribution, AttributionSource, ClickCount, InboundOutcome, Link, LinkCursor, LinkPatch, LinkQuery, NewLink, Store,
    StoreError,
};
use switchboard_tests::{Backend, TestDb};

use crate::fixtures::{
    apply, begin, channel, contact, exec, finish, inbound_text, message, migrate_up_to, query_i64, t, text,
    uuid_literal,
};
use crate::labels::label;

conformance!(
    stories: [
        links_are_created_with_their_labels_and_found_by_id_and_slug,
        slugs_codes_and_ads_are_unique,
        links_are_listed_newest_first_page_by_page,
        links_change_but_keep_what_is_printed,
        a_reference_code_attributes_a_new_conversation_and_applies_the_labels,
        an_ad_referral_attributes_a_new_conversation,
        a_channel_knows_its_display_phone_number,
    ],
    with_db: [
        stats_count_clicks_and_conversations_per_utc_day,
        click_counts_add_up_per_hour_referrer_and_family,
        clicks_logged_one_row_each_become_counts,
    ],
);

fn phone() -> PhoneNumber {
    PhoneNumber::parse("+44 7700 900123", None).unwrap()
}

fn new_link(channel: ChannelId, slug: &str, code: &str) -> NewLink {
    NewLink {
        channel_id: channel,
        slug: Slug::parse(slug).unwrap(),
        ref_code: RefCode::parse(code).unwrap(),
        phone: phone(),
        text: Some("Hi, I need help with my order".into()),
        campaign: Some("Summer sale".into()),
        source: Some("instagram".into()),
        tags: vec!["summer".into(), "2026".into()],
        ad_source_id: None,
        labels: Vec::new(),
        created_by: None,
        at: t(0),
    }
}

async fn create(store: &dyn Store, link: NewLink) -> Link {
    store.create_link(&link).await.unwrap()
}

async fn links_are_created_with_their_labels_and_found_by_id_and_slug(store: Arc<dyn Store>) {
    let ch = channel(&*store, "3001").await;
    let vip = label(&*store, "vip").await;
    let billing = label(&*store, "Billing").await;
    let link =
        create(&*store, NewLink { labels: vec![vip.id, billing.id, vip.id], ..new_link(ch.id, "summer", "SUMR26") })
            .await;
    assert_eq!(link.slug.as_str(), "summer");
    assert_eq!(link.ref_code.as_str(), "SUMR26");
    assert_eq!(link.phone, phone());
    assert_eq!(link.text.as_deref(), Some("Hi, I need help with my order"));
    assert_eq!((link.campaign.as_deref(), link.source.as_deref()), (Some("Summer sale"), Some("instagram")));
    assert_eq!(link.tags, ["summer", "2026"]);
    assert_eq!(link.labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Billing", "vip"]);
    assert!(link.enabled);
    assert_eq!((link.created_at, link.updated_at), (t(0), t(0)));

    assert_eq!(store.link(link.id).await.unwrap(), Some(link.clone()));
    assert_eq!(store.link_by_slug(&Slug::parse("SUMMER").unwrap()).await.unwrap(), Some(link.clone()));
    assert_eq!(store.link(LinkId::new()).await.unwrap(), None);
    assert_eq!(store.link_by_slug(&Slug::parse("nope").unwrap()).await.unwrap(), None);

    // An unknown label or channel creates nothing.
    let err = store
        .create_link(&NewLink { labels: vec![LabelId::new()], ..new_link(ch.id, "other", "OTHER1") })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = store.create_link(&new_link(ChannelId::new(), "other", "OTHER1")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(store.link_by_slug(&Slug::parse("other").unwrap()).await.unwrap(), None);

    // Deleting a label takes it off the link.
    store.delete_label(vip.id).await.unwrap();
    let link = store.link(link.id).await.unwrap().unwrap();
    assert_eq!(link.labels.iter().map(|l| l.id).collect::<Vec<_>>(), [billing.id]);
}

async fn slugs_codes_and_ads_are_unique(store: Arc<dyn Store>) {
    let ch = channel(&*store, "3002").await;
    create(&*store, NewLink { ad_source_id: Some("120208".into()), ..new_link(ch.id, "a1", "AAAA1") }).await;
    let cases = [
        (new_link(ch.id, "a1", "BBBB2"), "link slug"),
        (new_link(ch.id, "b2", "aaaa1"), "link reference code"),
        (NewLink { ad_source_id: Some("120208".into()), ..new_link(ch.id, "c3", "CCCC3") }, "link ad source id"),
    ];
    for (link, what) in cases {
        let err = store.create_link(&link).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { what: w } if w == what), "{what}: {err:?}");
    }
    let b = create(&*store, new_link(ch.id, "b2", "BBBB2")).await;
    let err = store
        .update_link(b.id, &LinkPatch { ad_source_id: Some(Some("120208".into())), ..LinkPatch::default() }, t(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { what: "link ad source id" }), "{err:?}");
}

async fn links_are_listed_newest_first_page_by_page(store: Arc<dyn Store>) {
    let ch = channel(&*store, "3003").await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(create(&*store, new_link(ch.id, &format!("l{i}"), &format!("CODE{i}"))).await.id);
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut after: Option<LinkCursor> = None;
    let mut pages = 0;
    loop {
        let page = store.list_links(&LinkQuery { limit: 2, after }).await.unwrap();
        pages += 1;
        seen.extend(page.items.iter().map(|l| l.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, made);
}

async fn links_change_but_keep_what_is_printed(store: Arc<dyn Store>) {
    let ch = channel(&*store, "3004").await;
    let vip = label(&*store, "vip").await;
    let billing = label(&*store, "billing").await;
    let link = create(&*store, NewLink { labels: vec![vip.id], ..new_link(ch.id, "keep", "KEEP01") }).await;
    let changed = store
        .update_link(
            link.id,
            &LinkPatch {
                text: Some(None),
                campaign: Some(Some("Winter".into())),
                tags: Some(vec!["winter".into()]),
                labels: Some(vec![billing.id]),
                enabled: Some(false),
                ..LinkPatch::default()
            },
            t(60),
        )
        .await
        .unwrap();
    assert_eq!(changed.text, None);
    assert_eq!(changed.campaign.as_deref(), Some("Winter"));
    assert_eq!(changed.source.as_deref(), Some("instagram"), "untouched");
    assert_eq!(changed.tags, ["winter"]);
    assert_eq!(changed.labels.iter().map(|l| l.id).collect::<Vec<_>>(), [billing.id]);
    assert!(!changed.enabled);
    assert_eq!(
        (changed.slug, changed.ref_code, changed.created_at, changed.updated_at),
        (link.slug, link.ref_code, t(0), t(60))
    );
    // An empty patch only touches updated_at; unknown links and labels are not found.
    let same = store.update_link(link.id, &LinkPatch::default(), t(61)).await.unwrap();
    assert_eq!(same.labels.len(), 1);
    let err = store.update_link(LinkId::new(), &LinkPatch::default(), t(62)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = store
        .update_link(link.id, &LinkPatch { labels: Some(vec![LabelId::new()]), ..LinkPatch::default() }, t(63))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(store.link(link.id).await.unwrap().unwrap().labels.len(), 1, "rolled back");
}

/// Applies a first message and returns its conversation and message ids.
async fn first_message(
    store: &dyn Store,
    ch: ChannelId,
    wa_id: &str,
    body: &str,
    referral: Option<Referral>,
) -> (ConversationId, MessageId) {
    let c = contact(wa_id, Some("Ana"));
    let mut m = text(&format!("wamid.{wa_id}"), &c, t(100), body);
    m.referral = referral;
    match apply(store, ch, &c, &m, Some(t(100) + Duration::hours(24))).await {
        InboundOutcome::Stored { conversation_id, message_id, new_conversation: true, .. } => {
            (conversation_id, message_id)
        }
        other => panic!("{other:?}"),
    }
}

async fn attribute(store: &dyn Store, a: &Attribution<'_>) -> Option<LinkId> {
    let (mut tx, events) = begin(store).await;
    let out = tx.attribute_conversation(a).await.unwrap();
    finish(tx, &events).await;
    out
}

async fn a_reference_code_attributes_a_new_conversation_and_applies_the_labels(store: Arc<dyn Store>) {
    let ch = channel(&*store, "3005").await;
    let vip = label(&*store, "vip").await;
    let link = create(&*store, NewLink { labels: vec![vip.id], ..new_link(ch.id, "ref", "K7QX2M") }).await;
    let format = RefFormat::default();
    let body = format.append("আমার অর্ডার কোথায়?", &link.ref_code);
    let (conversation, message_id) = first_message(&*store, ch.id, "15550010", &body, None).await;
    let (code, stripped) = format.strip(&body).unwrap();
    let a = Attribution {
        conversation,
        message: message_id,
        source: AttributionSource::RefCode { code: &code, stripped_text: &stripped },
        at: t(101),
    };
    assert!(store.conversation_attribution(conversation).await.unwrap().is_none(), "not attributed yet");
    assert_eq!(attribute(&*store, &a).await, Some(link.id));
    // What the export reads: the link, and how.
    let got = store.conversation_attribution(conversation).await.unwrap().unwrap();
    assert_eq!((got.link_id, got.slug.as_str(), got.attributed_at), (link.id, "ref", Some(t(101))));
    assert_eq!(got.how, Some(serde_json::json!({"via": "ref", "ref_code": "K7QX2M"})));
    assert!(store.conversation_attribution(ConversationId::new()).await.unwrap().is_none());
    let on = store.conversation_labels(conversation).await.unwrap();
    assert_eq!(on.iter().map(|l| (l.label.id, l.added_by)).collect::<Vec<_>>(), [(vip.id, None)]);
    // Agents see the text without the code; the content keeps what the customer sent.
    let m = store.message(message_id).await.unwrap().unwrap();
    assert_eq!(m.text.as_deref(), Some("আমার অর্ডার কোথায়?"));
    assert_eq!(m.content, MessageContent::Text { body: body.clone() });
    // Once attributed, a conversation stays with its link.
    assert_eq!(attribute(&*store, &a).await, None);

    // An unknown code, or the code of a disabled link, attributes nothing and keeps the text.
    let unknown = RefCode::parse("ZZZZ99").unwrap();
    let body2 = format.append("hello", &unknown);
    let (c2, m2) = first_message(&*store, ch.id, "15550011", &body2, None).await;
    let a2 = Attribution {
        conversation: c2,
        message: m2,
        source: AttributionSource::RefCode { code: &unknown, stripped_text: "hello" },
        at: t(102),
    };
    assert_eq!(attribute(&*store, &a2).await, None);
    store.update_link(link.id, &LinkPatch { enabled: Some(false), ..LinkPatch::default() }, t(103)).await.unwrap();
    let a3 = Attribution { conversation: c2, message: m2, source: a.source, at: t(104) };
    assert_eq!(attribute(&*store, &a3).await, None);
    assert_eq!(store.message(m2).await.unwrap().unwrap().text.as_deref(), Some(body2.as_str()));
    assert!(store.conversation_labels(c2).await.unwrap().is_empty());
}

async fn an_ad_referral_attributes_a_new_conversation(store: Arc<dyn Store>) {
    let ch = channel(&*store, "3006").await;
    let vip = label(&*store, "ads").await;
    let link = create(
        &*store,
        NewLink { labels: vec![vip.id], ad_source_id: Some("120208".into()), ..new_link(ch.id, "ad", "ADAD01") },
    )
    .await;
    let referral = Referral {
        source_id: Some("120208".into()),
        source_type: Some("ad".into()),
        headline: Some("Summer sale".into()),
        ctwa_clid: Some("ARAkLkA8rmlFeiCktEJQ".into()),
        ..Referral::default()
    };
    let (conversation, message_id) =
        first_message(&*store, ch.id, "15550020", "Can I get more info on this?", Some(referral)).await;
    let a = Attribution {
        conversation,
        message: message_id,
        source: AttributionSource::Ad {
            source_id: "120208",
            ctwa_clid: Some("ARAkLkA8rmlFeiCktEJQ"),
            headline: Some("Summer sale"),
        },
        at: t(101),
    };
    assert_eq!(attribute(&*store, &a).await, Some(link.id));
    assert_eq!(store.conversation_labels(conversation).await.unwrap().len(), 1);
    // The text is untouched.
    let m = store.message(message_id).await.unwrap().unwrap();
    assert_eq!(m.text.as_deref(), Some("Can I get more info on this?"));
    let other =
        Attribution { source: AttributionSource::Ad { source_id: "999", ctwa_clid: None, headline: None }, ..a };
    let (c2, m2) = first_message(&*store, ch.id, "15550021", "hi", None).await;
    assert_eq!(attribute(&*store, &Attribution { conversation: c2, message: m2, ..other }).await, None);
}

async fn a_channel_knows_its_display_phone_number(store: Arc<dyn Store>) {
    let ch = channel(&*store, "3007").await;
    assert_eq!(store.display_phone_number(ch.id).await.unwrap(), None);
    store.set_display_phone_number(ch.id, &phone()).await.unwrap();
    assert_eq!(store.display_phone_number(ch.id).await.unwrap(), Some(phone()));
    // Renaming the channel keeps it.
    channel(&*store, "3007").await;
    assert_eq!(store.display_phone_number(ch.id).await.unwrap(), Some(phone()));
    assert!(matches!(store.display_phone_number(ChannelId::new()).await.unwrap_err(), StoreError::NotFound));
    assert!(matches!(
        store.set_display_phone_number(ChannelId::new(), &phone()).await.unwrap_err(),
        StoreError::NotFound
    ));
}

fn time_literal(db: &TestDb, at: DateTime<Utc>) -> String {
    match db.backend {
        Backend::Sqlite => at.timestamp_millis().to_string(),
        Backend::Postgres => format!("'{}'::timestamptz", at.to_rfc3339()),
    }
}

async fn stats_count_clicks_and_conversations_per_utc_day(db: &TestDb, store: Arc<dyn Store>) {
    let ch = channel(&*store, "3008").await;
    let link = create(&*store, new_link(ch.id, "stats", "STAT01")).await;
    let day1 = t(0).date_naive(); // 2026-03-01, clicks at 09:00 UTC
    let late = t(0) + Duration::hours(14) + Duration::minutes(59); // 23:59 on day 1
    let click = |at: DateTime<Utc>, family| ClickCount {
        link: link.id,
        hour: at.duration_trunc(Duration::hours(1)).unwrap(),
        referrer_host: Some("t.co".into()),
        agent_family: family,
        clicks: 1,
    };
    store
        .record_clicks(&[
            click(t(0), AgentFamily::Chrome),
            click(t(1), AgentFamily::Safari),
            click(late, AgentFamily::Bot),
            click(late + Duration::minutes(2), AgentFamily::WhatsApp),
            click(t(0) - Duration::days(3), AgentFamily::Chrome),
        ])
        .await
        .unwrap();
    // Two conversations start on day 2; one is resolved on day 3.
    let code = link.ref_code.clone();
    for (wa_id, secs) in [("15550030", 86_400), ("15550031", 86_500)] {
        let c = contact(wa_id, None);
        let m = message(&format!("wamid.{wa_id}"), &c, t(secs), MessageContent::Text { body: "hi".into() });
        let InboundOutcome::Stored { conversation_id, message_id, .. } = apply(&*store, ch.id, &c, &m, None).await
        else {
            panic!("stored")
        };
        exec(
            db,
            &format!(
                "UPDATE conversations SET created_at = {} WHERE id = {}",
                time_literal(db, t(secs)),
                uuid_literal(db, conversation_id.as_uuid())
            ),
        )
        .await;
        let a = Attribution {
            conversation: conversation_id,
            message: message_id,
            source: AttributionSource::RefCode { code: &code, stripped_text: "hi" },
            at: t(secs),
        };
        assert_eq!(attribute(&*store, &a).await, Some(link.id));
        if secs == 86_400 {
            exec(
                db,
                &format!(
                    "UPDATE conversations SET status = 'resolved', resolved_at = {} WHERE id = {}",
                    time_literal(db, t(2 * 86_400)),
                    uuid_literal(db, conversation_id.as_uuid())
                ),
            )
            .await;
        }
    }
    // A conversation not attributed to the link does not count.
    inbound_text(&*store, ch.id, "15550032", "wamid.other", t(86_400)).await;

    let days = store.link_stats(link.id, day1, day1 + Duration::days(2)).await.unwrap();
    let got: Vec<_> = days
        .iter()
        .map(|d| (d.day, d.clicks, d.bot_clicks, d.conversations_started, d.conversations_resolved))
        .collect();
    assert_eq!(
        got,
        [(day1, 2, 1, 0, 0), (day1 + Duration::days(1), 1, 0, 2, 0), (day1 + Duration::days(2), 0, 0, 0, 1),]
    );
    // Bounds are whole UTC days.
    let one = store.link_stats(link.id, day1, day1).await.unwrap();
    assert_eq!(one.len(), 1);
    let earlier = store.link_stats(link.id, day1 - Duration::days(3), day1 - Duration::days(3)).await.unwrap();
    assert_eq!(earlier.iter().map(|d| d.clicks).collect::<Vec<_>>(), [1]);
    assert!(matches!(store.link_stats(LinkId::new(), day1, day1).await.unwrap_err(), StoreError::NotFound));
}

/// Counts with the same link, hour, family and referrer add up, across calls and within
/// one (more rows than one SQLite statement takes); a missing referrer is a key of its own.
async fn click_counts_add_up_per_hour_referrer_and_family(db: &TestDb, store: Arc<dyn Store>) {
    let ch = channel(&*store, "3009").await;
    let link = create(&*store, new_link(ch.id, "counted", "CNT001")).await;
    let count = |hour: i64, referrer: Option<&str>, family, clicks| ClickCount {
        link: link.id,
        hour: t(0).duration_trunc(Duration::hours(1)).unwrap() + Duration::hours(hour),
        referrer_host: referrer.map(str::to_owned),
        agent_family: family,
        clicks,
    };
    store.record_clicks(&[]).await.unwrap();
    store
        .record_clicks(&[
            count(0, Some("t.co"), AgentFamily::Chrome, 3),
            count(0, None, AgentFamily::Chrome, 2),
            count(0, None, AgentFamily::Bot, 5),
        ])
        .await
        .unwrap();
    let mut batch: Vec<_> = (0..300).map(|h| count(h, None, AgentFamily::Chrome, 1)).collect();
    batch.push(count(0, Some("t.co"), AgentFamily::Chrome, 4));
    batch.push(count(0, Some("t.co"), AgentFamily::Chrome, 1));
    store.record_clicks(&batch).await.unwrap();

    let link_sql = uuid_literal(db, link.id.as_uuid());
    let sum = |filter: &str| {
        format!("SELECT COALESCE(SUM(clicks), 0) FROM link_click_counts WHERE link_id = {link_sql} AND {filter}")
    };
    assert_eq!(query_i64(db, &format!("SELECT COUNT(*) FROM link_click_counts WHERE link_id = {link_sql}")).await, 302);
    assert_eq!(query_i64(db, &sum("referrer_host = 't.co'")).await, 8);
    assert_eq!(query_i64(db, &sum("referrer_host = '' AND agent_family = 'chrome'")).await, 302);
    assert_eq!(query_i64(db, &sum("agent_family = 'bot'")).await, 5);
    let day = t(0).date_naive();
    let days = store.link_stats(link.id, day, day + Duration::days(12)).await.unwrap();
    assert_eq!(days.iter().map(|d| d.clicks).sum::<i64>(), 310);
    assert_eq!(days.iter().map(|d| d.bot_clicks).sum::<i64>(), 5);
    // 300 hours from 09:00 on day 1: 15 hours on day 1, then whole days.
    assert_eq!((days[0].clicks, days[1].clicks), (15 + 3 + 2 + 5, 24));
}

/// The migration to counts (20261206000022) keeps every click: one count per link, UTC
/// hour, family and referrer.
async fn clicks_logged_one_row_each_become_counts(db: &TestDb, _: Arc<dyn Store>) {
    let old = TestDb::new(db.backend).await;
    migrate_up_to(&old, 20261206000021).await;
    let store = old.connect().await;
    let ch = channel(&*store, "3010").await;
    let link = create(&*store, new_link(ch.id, "before", "OLD001")).await;
    store.close().await;
    let link_sql = uuid_literal(&old, link.id.as_uuid());
    let at = |secs: i64| match old.backend {
        Backend::Sqlite => t(secs).timestamp_millis().to_string(),
        Backend::Postgres => format!("'{}'::timestamptz", t(secs).to_rfc3339()),
    };
    for (secs, referrer, family) in [
        (0, "'t.co'", "chrome"),
        (59, "'t.co'", "chrome"),
        (3_599, "NULL", "chrome"),
        (3_600, "'t.co'", "chrome"),
        (10, "'t.co'", "bot"),
    ] {
        exec(
            &old,
            &format!(
                "INSERT INTO link_clicks (link_id, at, referrer_host, agent_family) \
                 VALUES ({link_sql}, {}, {referrer}, '{family}')",
                at(secs)
            ),
        )
        .await;
    }
    let store = old.store().await;
    assert_eq!(query_i64(&old, "SELECT COUNT(*) FROM link_click_counts").await, 4);
    assert_eq!(
        query_i64(
            &old,
            "SELECT SUM(clicks) FROM link_click_counts WHERE referrer_host = 't.co' AND agent_family = 'chrome'"
        )
        .await,
        3
    );
    let day = t(0).date_naive();
    let days = store.link_stats(link.id, day, day).await.unwrap();
    assert_eq!((days[0].clicks, days[0].bot_clicks), (4, 1));
    store.close().await;
}
