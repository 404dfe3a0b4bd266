//! Table and property tests of the auto-reply engine.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::hours::{BusinessHours, Interval, TimeOfDay, WeeklyHours};
use crate::message::{Choice, InteractiveReply, Media, MessageContent};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("valid instant").with_timezone(&Utc)
}

fn wa(s: &str) -> WaId {
    WaId::parse(s).expect("valid wa_id")
}

fn text(s: &str) -> MessageContent {
    MessageContent::Text { body: s.to_owned() }
}

fn rule_id(n: u128) -> RuleId {
    RuleId::from_uuid(Uuid::from_u128(n))
}

fn qr_id(n: u128) -> QuickReplyId {
    QuickReplyId::from_uuid(Uuid::from_u128(n))
}

fn label(n: u128) -> LabelId {
    LabelId::from_uuid(Uuid::from_u128(n))
}

/// Mon–Fri 09:00–17:00 in Berlin (UTC+1 in November; 2026-11-23 is a Monday).
fn office_hours() -> BusinessHours {
    let nine_to_five =
        Interval::new(TimeOfDay::parse("09:00").expect("time"), TimeOfDay::parse("17:00").expect("time"));
    let mut weekly = WeeklyHours::every_day(&[nine_to_five]);
    weekly.sat.clear();
    weekly.sun.clear();
    BusinessHours { time_zone: "Europe/Berlin".parse().expect("zone"), weekly, overrides: vec![] }
}

const OPEN: &str = "2026-11-23T10:00:00Z"; // Monday 11:00 in Berlin
const CLOSED: &str = "2026-11-23T20:00:00Z"; // Monday 21:00
const CLOSED_LATER: &str = "2026-11-23T23:30:00Z"; // Tuesday 00:30, same closed period
const NEXT_NIGHT: &str = "2026-11-24T20:00:00Z"; // Tuesday 21:00, the next closed period

fn greeting(text: &str) -> Greeting {
    Greeting {
        enabled: true,
        text: text.to_owned(),
        after_days_of_silence: DEFAULT_SILENCE_DAYS,
        recipients: Recipients::Everyone,
        only_within_business_hours: false,
    }
}

fn away(text: &str) -> Away {
    Away {
        enabled: true,
        text: text.to_owned(),
        schedule: AwaySchedule::OutsideBusinessHours,
        recipients: Recipients::Everyone,
        cooldown: AwayCooldown::default(),
        skip_if_agent_replied_within_minutes: DEFAULT_AGENT_REPLIED_MINUTES,
    }
}

fn rule(n: u128, matcher: Matcher, reply: &str) -> KeywordRule {
    KeywordRule {
        id: rule_id(n),
        name: format!("rule {n}"),
        enabled: true,
        matcher,
        actions: vec![RuleAction::SendText { text: reply.to_owned() }],
        stop: true,
        cooldown_minutes: 0,
    }
}

fn words(ws: &[&str]) -> Matcher {
    Matcher::ContainsWord { words: ws.iter().map(|s| (*s).to_owned()).collect() }
}

fn base_config() -> AutoReplyConfig {
    AutoReplyConfig {
        business_name: "Acme Bikes".into(),
        hours: Some(office_hours()),
        greeting: Some(greeting("Hi {{contact.first_name|there}}, welcome to {{business.name}}!")),
        away: Some(away("We are closed. Back {{next_open}}.")),
        ..AutoReplyConfig::default()
    }
}

fn compile(c: &AutoReplyConfig) -> CompiledConfig {
    match CompiledConfig::new(c) {
        Ok(c) => c,
        Err(e) => panic!("config should compile: {e}"),
    }
}

/// A known contact, last active 2 days before `now`.
fn returning(now: DateTime<Utc>) -> Facts {
    Facts {
        contact_name: Some("Ana María López".into()),
        is_new_contact: false,
        last_contact_activity: Some(now - TimeDelta::days(2)),
        ..Facts::new_contact(wa("34600111222"))
    }
}

fn outcome(ev: &Evaluation, rule: RuleRef) -> Outcome {
    ev.trace.iter().find(|e| e.rule == rule).map(|e| e.outcome).expect("rule in trace")
}

fn reply_texts(ev: &Evaluation) -> Vec<String> {
    ev.replies()
        .map(|(_, r)| match r {
            ReplyBody::Text { body } => body.clone(),
            ReplyBody::Buttons { body, .. } | ReplyBody::List { body, .. } => body.clone(),
            ReplyBody::Media { caption, .. } => caption.clone().unwrap_or_default(),
        })
        .collect()
}

// ---------- greeting and away ----------

#[test]
fn first_message_outside_hours_gets_greeting_then_away() {
    let engine = compile(&base_config());
    let now = at(CLOSED);
    let facts = Facts { contact_name: Some("Ana María".into()), ..Facts::new_contact(wa("34600111222")) };
    let ev = engine.evaluate_content(&facts, &text("hello"), now);
    assert_eq!(ev.actions.iter().map(|a| a.rule).collect::<Vec<_>>(), vec![RuleRef::Greeting, RuleRef::Away]);
    assert_eq!(
        reply_texts(&ev),
        vec!["Hi Ana, welcome to Acme Bikes!".to_owned(), "We are closed. Back tomorrow at 09:00.".to_owned()]
    );
    assert_eq!(ev.fired().collect::<Vec<_>>(), vec![RuleRef::Greeting, RuleRef::Away]);
}

#[test]
fn greeting_after_days_of_silence() {
    let engine = compile(&base_config());
    let now = at(OPEN);
    let mut facts = returning(now);
    assert_eq!(
        outcome(&engine.evaluate_content(&facts, &text("hi"), now), RuleRef::Greeting),
        Outcome::NotDue { last_activity: now - TimeDelta::days(2) }
    );
    facts.last_contact_activity = Some(now - TimeDelta::days(14) + TimeDelta::minutes(1));
    assert!(matches!(
        outcome(&engine.evaluate_content(&facts, &text("hi"), now), RuleRef::Greeting),
        Outcome::NotDue { .. }
    ));
    facts.last_contact_activity = Some(now - TimeDelta::days(14));
    assert_eq!(outcome(&engine.evaluate_content(&facts, &text("hi"), now), RuleRef::Greeting), Outcome::Fired);
    // A known contact with no recorded activity is greeted too.
    facts.last_contact_activity = None;
    assert_eq!(outcome(&engine.evaluate_content(&facts, &text("hi"), now), RuleRef::Greeting), Outcome::Fired);
    // A custom silence period.
    let mut c = base_config();
    if let Some(g) = &mut c.greeting {
        g.after_days_of_silence = 1;
    }
    let facts = returning(now);
    assert_eq!(outcome(&compile(&c).evaluate_content(&facts, &text("hi"), now), RuleRef::Greeting), Outcome::Fired);
}

#[test]
fn greeting_respects_recipients_and_business_hours() {
    let now = at(OPEN);
    let silent = Facts { last_contact_activity: Some(now - TimeDelta::days(30)), ..returning(now) };
    let new = Facts::new_contact(wa("34600999888"));
    let cases: [(Recipients, &Facts, bool); 6] = [
        (Recipients::NewContacts, &silent, false),
        (Recipients::NewContacts, &new, true),
        (Recipients::AllExcept { wa_ids: vec![wa("34600111222")] }, &silent, false),
        (Recipients::AllExcept { wa_ids: vec![wa("34600111222")] }, &new, true),
        (Recipients::Only { wa_ids: vec![wa("34600111222")] }, &silent, true),
        (Recipients::Only { wa_ids: vec![wa("34600111222")] }, &new, false),
    ];
    for (recipients, facts, fires) in cases {
        let mut c = base_config();
        if let Some(g) = &mut c.greeting {
            g.recipients = recipients.clone();
        }
        let got = outcome(&compile(&c).evaluate_content(facts, &text("hi"), now), RuleRef::Greeting);
        let want = if fires { Outcome::Fired } else { Outcome::NotRecipient };
        assert_eq!(got, want, "{recipients:?}");
    }
    let mut c = base_config();
    if let Some(g) = &mut c.greeting {
        g.only_within_business_hours = true;
    }
    let engine = compile(&c);
    assert_eq!(
        outcome(&engine.evaluate_content(&new, &text("hi"), at(CLOSED)), RuleRef::Greeting),
        Outcome::OutsideBusinessHours
    );
    assert_eq!(outcome(&engine.evaluate_content(&new, &text("hi"), now), RuleRef::Greeting), Outcome::Fired);
}

#[test]
fn away_once_per_closed_period() {
    let engine = compile(&base_config());
    let first = at(CLOSED);
    let mut facts = returning(first);
    let ev = engine.evaluate_content(&facts, &text("are you there?"), first);
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::Fired);
    facts.rule_fired.push(RuleFiring { rule: RuleRef::Away, at: first });
    // Later the same night (past midnight): same closed period.
    let ev = engine.evaluate_content(&facts, &text("hello??"), at(CLOSED_LATER));
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::AlreadySentThisPeriod { at: first });
    assert!(ev.actions.is_empty());
    // During opening hours: not away, and the trace says until when.
    let ev = engine.evaluate_content(&facts, &text("hi"), at(OPEN));
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::NotAway { until: Some(at("2026-11-23T16:00:00Z")) });
    // The next night is a new closed period.
    let ev = engine.evaluate_content(&facts, &text("hi again"), at(NEXT_NIGHT));
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::Fired);
}

#[test]
fn away_minimum_interval() {
    let mut c = base_config();
    if let Some(a) = &mut c.away {
        a.cooldown = AwayCooldown { once_per_period: false, min_interval_minutes: 60 };
    }
    let engine = compile(&c);
    let first = at(CLOSED);
    let facts = Facts { rule_fired: vec![RuleFiring { rule: RuleRef::Away, at: first }], ..returning(first) };
    let ev = engine.evaluate_content(&facts, &text("?"), first + TimeDelta::minutes(59));
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::Cooldown { until: first + TimeDelta::minutes(60) });
    let ev = engine.evaluate_content(&facts, &text("?"), first + TimeDelta::minutes(60));
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::Fired);
}

#[test]
fn away_is_suppressed_after_an_agent_reply() {
    let engine = compile(&base_config());
    let now = at(CLOSED);
    let mut facts = returning(now);
    facts.last_agent_reply = Some(now - TimeDelta::minutes(4));
    let ev = engine.evaluate_content(&facts, &text("thanks"), now);
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::AgentRecentlyReplied { at: now - TimeDelta::minutes(4) });
    facts.last_agent_reply = Some(now - TimeDelta::minutes(5));
    assert_eq!(outcome(&engine.evaluate_content(&facts, &text("thanks"), now), RuleRef::Away), Outcome::Fired);
    // 0 minutes: never suppressed.
    let mut c = base_config();
    if let Some(a) = &mut c.away {
        a.skip_if_agent_replied_within_minutes = 0;
    }
    facts.last_agent_reply = Some(now);
    assert_eq!(outcome(&compile(&c).evaluate_content(&facts, &text("thanks"), now), RuleRef::Away), Outcome::Fired);
}

#[test]
fn away_schedules_always_and_custom() {
    let mut c = base_config();
    if let Some(a) = &mut c.away {
        a.schedule = AwaySchedule::Always;
    }
    let engine = compile(&c);
    let now = at(OPEN);
    let mut facts = returning(now);
    assert_eq!(outcome(&engine.evaluate_content(&facts, &text("x"), now), RuleRef::Away), Outcome::Fired);
    // Always: one period, so once per conversation.
    facts.rule_fired.push(RuleFiring { rule: RuleRef::Away, at: now - TimeDelta::days(20) });
    assert!(matches!(
        outcome(&engine.evaluate_content(&facts, &text("x"), now), RuleRef::Away),
        Outcome::AlreadySentThisPeriod { .. }
    ));
    // Custom: away during the lunch break only.
    let lunch = Interval::new(TimeOfDay::parse("12:00").expect("t"), TimeOfDay::parse("13:00").expect("t"));
    let custom = BusinessHours {
        time_zone: "Europe/Berlin".parse().expect("zone"),
        weekly: WeeklyHours::every_day(&[lunch]),
        overrides: vec![],
    };
    let mut c = base_config();
    c.hours = None;
    c.greeting = None;
    c.away = Some(Away { schedule: AwaySchedule::Custom { hours: custom }, text: "Lunch break!".into(), ..away("") });
    let engine = compile(&c);
    let facts = returning(now);
    assert_eq!(
        outcome(&engine.evaluate_content(&facts, &text("x"), at("2026-11-23T11:30:00Z")), RuleRef::Away),
        Outcome::Fired
    );
    assert_eq!(
        outcome(&engine.evaluate_content(&facts, &text("x"), at("2026-11-23T10:30:00Z")), RuleRef::Away),
        Outcome::NotAway { until: Some(at("2026-11-23T11:00:00Z")) }
    );
}

#[test]
fn away_recipients() {
    let mut c = base_config();
    if let Some(a) = &mut c.away {
        a.recipients = Recipients::AllExcept { wa_ids: vec![wa("34600111222")] };
    }
    let engine = compile(&c);
    let now = at(CLOSED);
    assert_eq!(
        outcome(&engine.evaluate_content(&returning(now), &text("x"), now), RuleRef::Away),
        Outcome::NotRecipient
    );
    let other = Facts { contact_wa_id: wa("34600000001"), ..returning(now) };
    assert_eq!(outcome(&engine.evaluate_content(&other, &text("x"), now), RuleRef::Away), Outcome::Fired);
}

// ---------- safety ----------

#[test]
fn never_answers_reactions_system_messages_unknown_types_or_echoes() {
    let mut c = base_config();
    c.rules.push(rule(1, Matcher::Contains { texts: vec!["👍".into()] }, "thumbs"));
    let engine = compile(&c);
    let now = at(CLOSED);
    let facts = Facts::new_contact(wa("34600111222"));
    let silent = [
        MessageContent::Reaction { message_id: "wamid.X".into(), emoji: Some("👍".into()) },
        MessageContent::System {
            kind: "user_changed_number".into(),
            body: Some("👍".into()),
            new_wa_id: None,
            user_id: None,
        },
        MessageContent::Unsupported,
        MessageContent::Unknown { original_type: "hologram".into() },
        MessageContent::Template { name: "hello".into(), language: "en".into(), parameters: vec![] },
        MessageContent::InteractiveMessage { style: "button".into(), body: "👍".into(), options: vec![] },
    ];
    for content in silent {
        let ev = engine.evaluate_content(&facts, &content, now);
        assert!(ev.actions.is_empty(), "{content:?} answered");
        assert!(ev.trace.iter().all(|e| matches!(e.outcome, Outcome::NotAnswerable { .. })), "{:?}", ev.trace);
        assert_eq!(ev.trace.len(), 3);
    }
    // A chat-opened signal gets the greeting only.
    let ev = engine.evaluate_content(&facts, &MessageContent::RequestWelcome, now);
    assert_eq!(ev.actions.iter().map(|a| a.rule).collect::<Vec<_>>(), vec![RuleRef::Greeting]);
    // Media, locations and stickers are answered by greeting and away.
    let ev = engine.evaluate_content(&facts, &MessageContent::Sticker(Media::default()), now);
    assert_eq!(ev.actions.len(), 2);
}

#[test]
fn per_contact_cap_counts_past_and_new_replies() {
    let mut c = base_config();
    c.limits.max_auto_replies_per_contact_per_hour = 3;
    let mut r1 = rule(1, words(&["price"]), "It costs 10");
    r1.stop = false;
    let mut r2 = rule(2, words(&["price"]), "Label only");
    r2.actions = vec![RuleAction::AddLabels { labels: vec![label(7)] }];
    c.rules = vec![r1, r2];
    let engine = compile(&c);
    let now = at(CLOSED);
    let mut facts = Facts::new_contact(wa("34600111222"));
    // 0 sent: greeting, away and the answer all fit.
    let ev = engine.evaluate_content(&facts, &text("price?"), now);
    assert_eq!(ev.replies().count(), 3);
    // 1 sent: the answer no longer fits; the label-only rule still fires.
    facts.auto_replies_last_hour = 1;
    let ev = engine.evaluate_content(&facts, &text("price?"), now);
    assert_eq!(ev.replies().count(), 2);
    assert_eq!(outcome(&ev, RuleRef::Keyword(rule_id(1))), Outcome::CapReached { limit: 3 });
    assert_eq!(outcome(&ev, RuleRef::Keyword(rule_id(2))), Outcome::Fired);
    // At the cap: nothing is sent.
    facts.auto_replies_last_hour = 3;
    let ev = engine.evaluate_content(&facts, &text("price?"), now);
    assert_eq!(ev.replies().count(), 0);
    assert_eq!(outcome(&ev, RuleRef::Greeting), Outcome::CapReached { limit: 3 });
    assert_eq!(outcome(&ev, RuleRef::Away), Outcome::CapReached { limit: 3 });
}

// ---------- keyword rules ----------

fn keyword_engine() -> CompiledConfig {
    let rules = vec![
        rule(1, words(&["price", "preço", "precio"]), "price"),
        rule(2, words(&["سعر"]), "arabic"),
        rule(3, words(&["कीमत"]), "hindi"),
        rule(4, words(&["价格", "営業時間", "가격"]), "cjk"),
        rule(5, Matcher::Exact { texts: vec!["hi".into(), "👍".into()] }, "exact"),
        rule(6, Matcher::Regex { pattern: r"\border\s*#?\d{4,}".into() }, "order"),
        rule(7, Matcher::ButtonId { ids: vec!["talk_to_human".into()] }, "button"),
        rule(8, Matcher::ListId { ids: vec!["opt_2".into()] }, "list"),
        rule(9, Matcher::Contains { texts: vec!["refund".into()] }, "contains"),
        rule(10, words(&["opening hours"]), "phrase"),
        rule(11, Matcher::Regex { pattern: "a(ç|c)ucar".into() }, "accent regex"),
    ];
    compile(&AutoReplyConfig { rules, ..AutoReplyConfig::default() })
}

fn first_reply(engine: &CompiledConfig, content: &MessageContent) -> Option<String> {
    let now = at(OPEN);
    reply_texts(&engine.evaluate_content(&returning(now), content, now)).into_iter().next()
}

#[test]
fn keyword_matching_table() {
    let engine = keyword_engine();
    let cases: &[(&str, Option<&str>)] = &[
        ("What's the PRICE?", Some("price")),
        ("priceless", None),
        ("preço?", Some("price")),
        ("PRECO do produto", Some("price")),
        ("¿Cuál es el précio?", Some("price")),
        ("ＰＲＩＣＥ", Some("price")),
        ("كم سعر هذا؟", Some("arabic")),
        ("كم سِعْر هذا", Some("arabic")),
        ("इसकी कीमत क्या है", Some("hindi")),
        ("这个价格多少", Some("cjk")),
        ("営業時間は何時ですか", Some("cjk")),
        ("가격은 얼마예요?", Some("cjk")),
        ("Hi!!", Some("exact")),
        ("  HI  ", Some("exact")),
        ("hi there", None),
        ("👍", Some("exact")),
        ("where is my order #12345", Some("order")),
        ("ORDER 99", None),
        ("I want a refunding", Some("contains")),
        ("what are your Opening   Hours?", Some("phrase")),
        ("opening", None),
        ("quero AÇÚCAR", Some("accent regex")),
        ("", None),
    ];
    for (input, want) in cases {
        assert_eq!(first_reply(&engine, &text(input)).as_deref(), *want, "{input:?}");
    }
}

#[test]
fn button_list_and_caption_matching() {
    let engine = keyword_engine();
    let button =
        MessageContent::Interactive(InteractiveReply::ButtonReply { id: "talk_to_human".into(), title: "Talk".into() });
    assert_eq!(first_reply(&engine, &button).as_deref(), Some("button"));
    let template_button = MessageContent::Button { payload: Some("talk_to_human".into()), text: "Talk".into() };
    assert_eq!(first_reply(&engine, &template_button).as_deref(), Some("button"));
    let list = MessageContent::Interactive(InteractiveReply::ListReply {
        id: "opt_2".into(),
        title: "Two".into(),
        description: None,
    });
    assert_eq!(first_reply(&engine, &list).as_deref(), Some("list"));
    let other_list = MessageContent::Interactive(InteractiveReply::ListReply {
        id: "opt_3".into(),
        title: "Three".into(),
        description: None,
    });
    assert_eq!(first_reply(&engine, &other_list), None);
    // A button's title is text the customer "said".
    let titled = MessageContent::Interactive(InteractiveReply::ButtonReply { id: "x".into(), title: "Price".into() });
    assert_eq!(first_reply(&engine, &titled).as_deref(), Some("price"));
    let image = MessageContent::Image(Media { caption: Some("price of this?".into()), ..Media::default() });
    assert_eq!(first_reply(&engine, &image).as_deref(), Some("price"));
}

#[test]
fn stop_continue_disabled_and_cooldown() {
    let mut a = rule(1, words(&["price"]), "first");
    let b = rule(2, words(&["price"]), "second");
    let c3 = rule(3, words(&["price"]), "third");
    a.stop = false;
    let engine =
        compile(&AutoReplyConfig { rules: vec![a.clone(), b.clone(), c3.clone()], ..AutoReplyConfig::default() });
    let now = at(OPEN);
    let ev = engine.evaluate_content(&returning(now), &text("price"), now);
    assert_eq!(reply_texts(&ev), vec!["first", "second"]);
    assert_eq!(outcome(&ev, RuleRef::Keyword(rule_id(3))), Outcome::StoppedBy { rule: RuleRef::Keyword(rule_id(2)) });

    let mut b_off = b.clone();
    b_off.enabled = false;
    let engine = compile(&AutoReplyConfig { rules: vec![a.clone(), b_off, c3.clone()], ..AutoReplyConfig::default() });
    let ev = engine.evaluate_content(&returning(now), &text("price"), now);
    assert_eq!(reply_texts(&ev), vec!["first", "third"]);
    assert_eq!(outcome(&ev, RuleRef::Keyword(rule_id(2))), Outcome::Disabled);

    // A rule in its cooldown is skipped and does not stop the later ones.
    let mut b_cool = b;
    b_cool.cooldown_minutes = 30;
    let engine = compile(&AutoReplyConfig { rules: vec![a, b_cool, c3], ..AutoReplyConfig::default() });
    let fired = now - TimeDelta::minutes(10);
    let facts =
        Facts { rule_fired: vec![RuleFiring { rule: RuleRef::Keyword(rule_id(2)), at: fired }], ..returning(now) };
    let ev = engine.evaluate_content(&facts, &text("price"), now);
    assert_eq!(reply_texts(&ev), vec!["first", "third"]);
    assert_eq!(outcome(&ev, RuleRef::Keyword(rule_id(2))), Outcome::Cooldown { until: fired + TimeDelta::minutes(30) });
    let ev = engine.evaluate_content(&facts, &text("price"), fired + TimeDelta::minutes(30));
    assert_eq!(reply_texts(&ev), vec!["first", "second"]);
}

#[test]
fn rule_actions_produce_ready_replies() {
    let hours_qr = QuickReply {
        id: qr_id(1),
        shortcut: Shortcut::parse("hours").expect("shortcut"),
        text: "Hola {{contact.first_name}}, abrimos {{next_open}}.".into(),
        media: None,
        buttons: vec![],
    };
    let mut r = rule(1, words(&["horario"]), "unused");
    r.actions = vec![
        RuleAction::SendQuickReply { quick_reply: QuickReplyRef::Shortcut(Shortcut::parse("hours").expect("s")) },
        RuleAction::SendButtons {
            body: "¿Algo más, {{contact.first_name}}?".into(),
            buttons: vec![
                Choice { id: "yes".into(), title: "Sí".into() },
                Choice { id: "no".into(), title: "No".into() },
            ],
        },
        RuleAction::SendList {
            body: "Elige".into(),
            button: "Opciones".into(),
            sections: vec![ListSection {
                title: String::new(),
                rows: vec![ListRow { id: "a".into(), title: "A".into(), description: Some("first".into()) }],
            }],
        },
        RuleAction::AddLabels { labels: vec![label(5)] },
        RuleAction::Assign { agent: AgentId::from_uuid(Uuid::from_u128(9)) },
        RuleAction::AssignTeam { team: TeamId::from_uuid(Uuid::from_u128(10)) },
    ];
    let config = AutoReplyConfig {
        locale: Locale::parse("es").expect("locale"),
        hours: Some(office_hours()),
        quick_replies: vec![hours_qr],
        rules: vec![r],
        ..AutoReplyConfig::default()
    };
    let engine = compile(&config);
    let now = at(CLOSED);
    let ev = engine.evaluate_content(&returning(now), &text("¿Horário?"), now);
    assert_eq!(ev.actions.len(), 6);
    assert!(ev.actions.iter().all(|a| a.rule == RuleRef::Keyword(rule_id(1))));
    assert_eq!(
        ev.actions[0].effect,
        Effect::Reply { reply: ReplyBody::Text { body: "Hola Ana, abrimos mañana a las 09:00.".into() } }
    );
    match &ev.actions[1].effect {
        Effect::Reply { reply: ReplyBody::Buttons { body, buttons, header: None } } => {
            assert_eq!(body, "¿Algo más, Ana?");
            assert_eq!(buttons.len(), 2);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(&ev.actions[2].effect, Effect::Reply { reply: ReplyBody::List { .. } }));
    assert_eq!(ev.actions[3].effect, Effect::AddLabels { labels: vec![label(5)] });
    assert!(matches!(ev.actions[4].effect, Effect::Assign { .. }));
    assert_eq!(ev.actions[5].effect, Effect::AssignTeam { team: TeamId::from_uuid(Uuid::from_u128(10)) });
    // The contact's language wins over the channel's.
    let facts = Facts { contact_locale: Some(Locale::parse("de").expect("de")), ..returning(now) };
    let ev = engine.evaluate_content(&facts, &text("horario"), now);
    assert_eq!(reply_texts(&ev)[0], "Hola Ana, abrimos morgen um 09:00 Uhr.");
}

// ---------- quick replies for agents ----------

#[test]
fn agents_expand_shortcuts() {
    let config = AutoReplyConfig {
        business_name: "Acme".into(),
        hours: Some(office_hours()),
        quick_replies: vec![
            QuickReply {
                id: qr_id(1),
                shortcut: Shortcut::parse("hours").expect("s"),
                text: "{{agent.name}} from {{business.name}}: we open {{next_open}}.".into(),
                media: None,
                buttons: vec![],
            },
            QuickReply {
                id: qr_id(2),
                shortcut: Shortcut::parse("menu").expect("s"),
                text: "Our menu".into(),
                media: Some(MediaAttachment {
                    kind: MediaKind::Document,
                    id: None,
                    link: Some("https://example.com/menu.pdf".into()),
                    filename: Some("menu.pdf".into()),
                }),
                buttons: vec![],
            },
            QuickReply {
                id: qr_id(3),
                shortcut: Shortcut::parse("voice").expect("s"),
                text: "Listen to this".into(),
                media: Some(MediaAttachment {
                    kind: MediaKind::Audio,
                    id: Some("123".into()),
                    link: None,
                    filename: None,
                }),
                buttons: vec![],
            },
            QuickReply {
                id: qr_id(4),
                shortcut: Shortcut::parse("book").expect("s"),
                text: "Book a visit?".into(),
                media: Some(MediaAttachment {
                    kind: MediaKind::Image,
                    id: Some("456".into()),
                    link: None,
                    filename: None,
                }),
                buttons: vec![Choice { id: "book".into(), title: "Book".into() }],
            },
        ],
        ..AutoReplyConfig::default()
    };
    let engine = compile(&config);
    let ctx = AgentSend {
        contact_name: Some("Bob"),
        contact_locale: None,
        agent_name: Some("Carla"),
        now: at("2026-11-27T17:00:00Z"), // Friday 18:00
    };
    let out = engine.expand_command("/hours", &ctx).expect("a command").expect("known");
    assert_eq!(out, vec![ReplyBody::Text { body: "Carla from Acme: we open Monday at 09:00.".into() }]);
    assert_eq!(engine.expand_command("  /Hours ", &ctx).expect("a command").expect("known"), out);
    assert_eq!(engine.expand_command("/nope", &ctx), Some(Err(QuickReplyError::Unknown { reference: "nope".into() })));
    assert_eq!(engine.expand_command("see /hours", &ctx), None);
    assert_eq!(engine.expand_command("/etc/passwd", &ctx), None);
    let by_id = engine.expand_quick_reply(&QuickReplyRef::Id(qr_id(1)), &ctx).expect("known");
    assert_eq!(by_id, out);
    let menu = engine.expand_quick_reply(&QuickReplyRef::parse("menu").expect("ref"), &ctx).expect("known");
    assert!(matches!(&menu[..], [ReplyBody::Media { caption: Some(c), .. }] if c == "Our menu"));
    assert!(matches!(menu[0].to_content(), MessageContent::Document(_)));
    let voice = engine.expand_quick_reply(&QuickReplyRef::parse("voice").expect("ref"), &ctx).expect("known");
    assert!(matches!(&voice[..], [ReplyBody::Media { caption: None, .. }, ReplyBody::Text { .. }]));
    let book = engine.expand_quick_reply(&QuickReplyRef::parse("book").expect("ref"), &ctx).expect("known");
    assert!(matches!(&book[..], [ReplyBody::Buttons { header: Some(_), .. }]));
    assert_eq!(engine.find_quick_reply(&QuickReplyRef::Id(qr_id(4))).map(|q| q.shortcut.as_str()), Some("book"));
}

#[test]
fn shortcuts_are_parsed() {
    assert!(Shortcut::parse("hours").is_ok());
    assert!(Shortcut::parse("after-hours_2").is_ok());
    for bad in ["", "Hours", "with space", "/hours", "ñ", &"x".repeat(33)] {
        assert!(Shortcut::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(Shortcut::from_command("/HOURS").map(|s| s.to_string()), Some("hours".into()));
    assert_eq!(Shortcut::from_command("hours"), None);
}

// ---------- templates ----------

#[test]
fn template_variables_and_fallbacks() {
    let now = at(CLOSED);
    let hours = office_hours();
    let vars = Vars {
        contact_name: Some("  José Luis  "),
        agent_name: Some("Carla"),
        business_name: Some("Acme"),
        hours: Some(&hours),
        lang: Lang::En,
        now,
    };
    let r = |t: &str, v: &Vars<'_>| render(t, v).expect("valid template");
    assert_eq!(r("Hi {{contact.name}} ({{ contact.first_name }})", &vars), "Hi José Luis (José)");
    assert_eq!(
        r("{{agent.name}} @ {{business.name}}, back {{next_open}}", &vars),
        "Carla @ Acme, back tomorrow at 09:00"
    );
    let empty = Vars::new(now);
    assert_eq!(r("Hi {{contact.name}}, welcome", &empty), "Hi, welcome");
    assert_eq!(r("Hi {{contact.first_name|there}}!", &empty), "Hi there!");
    assert_eq!(r("Hello {{contact.name}}", &empty), "Hello");
    assert_eq!(r("Back {{next_open}}.", &empty), "Back soon.");
    assert_eq!(r("No braces } {here", &empty), "No braces } {here");
    assert_eq!(
        render("Hi {{contact.email}}", &vars),
        Err(TemplateError::UnknownVariable { name: "contact.email".into() })
    );
    assert_eq!(render("Hi {{contact.name", &vars), Err(TemplateError::Unclosed { at: 3 }));
    assert!(Template::parse("{{next_open}}").expect("ok").uses(Var::NextOpen));
}

/// Issue 22.6: a fallback is plain text, so no raw `{{…}}` is ever sent.
#[test]
fn fallbacks_with_braces_are_refused() {
    let vars = Vars::new(at(CLOSED));
    for t in ["Hi {{contact.name|{{contact.email}}}}!", "Hi {{contact.name|{}}{x}}", "{{agent.name|a}b}}"] {
        assert!(matches!(render(t, &vars), Err(TemplateError::BraceInFallback { .. })), "{t}: {:?}", render(t, &vars));
    }
    assert_eq!(render("Hi {{contact.name|friend}}!", &vars), Ok("Hi friend!".into()));
    // Found by fuzzing: dropping the space before an empty value joined two braces.
    assert_eq!(render("{ {{contact.name}}{x}}", &vars), Ok("{ {x}}".into()));
    assert_eq!(render("Hi {{contact.name}}, welcome", &vars), Ok("Hi, welcome".into()));
}

/// Issue 22.3: times at chrono's limits evaluate without panicking.
#[test]
fn evaluation_at_extreme_times_does_not_panic() {
    let mut config = base_config();
    config.rules = vec![KeywordRule { cooldown_minutes: 60, ..rule(1, words(&["price"]), "It costs {{next_open}}") }];
    if let Some(a) = config.away.as_mut() {
        a.cooldown.min_interval_minutes = 30;
        a.skip_if_agent_replied_within_minutes = 10;
    }
    let compiled = compile(&config);
    let max = DateTime::<Utc>::MAX_UTC;
    for now in [max, DateTime::<Utc>::MIN_UTC, at(CLOSED)] {
        for fired in [max, DateTime::<Utc>::MIN_UTC] {
            let facts = Facts {
                last_contact_activity: Some(fired),
                last_agent_reply: Some(fired),
                rule_fired: [RuleRef::Greeting, RuleRef::Away, RuleRef::Keyword(rule_id(1))]
                    .into_iter()
                    .map(|rule| RuleFiring { rule, at: fired })
                    .collect(),
                ..returning(at(CLOSED))
            };
            let ev = compiled.evaluate_content(&facts, &text("price please"), now);
            assert!(!ev.trace.is_empty());
        }
    }
}

#[test]
fn next_open_in_several_languages() {
    let hours = office_hours();
    let render_in = |lang: Lang, now: &str| {
        let vars = Vars { hours: Some(&hours), lang, ..Vars::new(at(now)) };
        render("{{next_open}}", &vars).expect("valid")
    };
    let friday_night = "2026-11-27T20:00:00Z";
    let cases = [
        (Lang::En, OPEN, "now"),
        (Lang::En, CLOSED, "tomorrow at 09:00"),
        (Lang::En, "2026-11-24T07:00:00Z", "today at 09:00"),
        (Lang::En, friday_night, "Monday at 09:00"),
        (Lang::EnUs, friday_night, "Monday at 9:00 AM"),
        (Lang::Es, friday_night, "el lunes a las 09:00"),
        (Lang::Pt, CLOSED, "amanhã às 09:00"),
        (Lang::Fr, friday_night, "lundi à 09:00"),
        (Lang::De, friday_night, "Montag um 09:00 Uhr"),
        (Lang::It, CLOSED, "domani alle 09:00"),
    ];
    for (lang, now, want) in cases {
        assert_eq!(render_in(lang, now), want, "{lang:?} {now}");
    }
    // Far away: with the date.
    let mut closed_long = hours.clone();
    closed_long.overrides.push(crate::hours::DateOverride {
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
        until: chrono::NaiveDate::from_ymd_opt(2026, 12, 6),
        label: None,
        hours: vec![],
    });
    let vars = |lang| Vars { hours: Some(&closed_long), lang, ..Vars::new(at(CLOSED)) };
    assert_eq!(render("{{next_open}}", &vars(Lang::En)).expect("ok"), "Monday 7 December at 09:00");
    assert_eq!(render("{{next_open}}", &vars(Lang::Es)).expect("ok"), "el lunes 7 de diciembre a las 09:00");
    assert_eq!(render("{{next_open}}", &vars(Lang::De)).expect("ok"), "Montag, 7. Dezember um 09:00 Uhr");
    assert_eq!(render("{{next_open}}", &vars(Lang::Pt)).expect("ok"), "segunda-feira, 7 de dezembro às 09:00");
    // Any moment, as the admin's preview writes the next closing.
    let friday_evening = at("2026-11-27T15:00:00Z"); // Friday 16:00 in Berlin
    let close = hours.next_close(friday_evening).expect("closes");
    assert_eq!(template::format_when(&hours, close, friday_evening, Lang::En).as_deref(), Some("today at 17:00"));
    assert_eq!(
        template::format_when(&hours, close, at("2026-11-26T15:00:00Z"), Lang::En).as_deref(),
        Some("tomorrow at 17:00")
    );
    assert_eq!(Lang::from_tag("pt-BR"), Lang::Pt);
    assert_eq!(Lang::from_tag("en_us"), Lang::EnUs);
    assert_eq!(Lang::from_tag("ja"), Lang::En);
}

// ---------- validation ----------

#[test]
fn validation_errors_name_the_fields() {
    let too_many_buttons: Vec<Choice> =
        (0..4).map(|i| Choice { id: format!("b{i}"), title: format!("Button {i}") }).collect();
    let mut bad_regex = rule(3, Matcher::Regex { pattern: "(unclosed".into() }, "x");
    bad_regex.id = rule_id(3);
    let config = AutoReplyConfig {
        hours: None,
        greeting: Some(greeting("Hi {{contact.email}}")),
        away: Some(away("Back {{next_open}}")),
        quick_replies: vec![
            QuickReply {
                id: qr_id(1),
                shortcut: Shortcut::parse("dup").expect("s"),
                text: "x".into(),
                media: None,
                buttons: too_many_buttons,
            },
            QuickReply {
                id: qr_id(2),
                shortcut: Shortcut::parse("dup").expect("s"),
                text: "y".into(),
                media: Some(MediaAttachment { kind: MediaKind::Image, id: None, link: None, filename: None }),
                buttons: vec![Choice { id: "a".into(), title: "A title that is far too long".into() }],
            },
        ],
        rules: vec![
            KeywordRule {
                actions: vec![RuleAction::SendQuickReply {
                    quick_reply: QuickReplyRef::Shortcut(Shortcut::parse("missing").expect("s")),
                }],
                ..rule(1, words(&["  "]), "x")
            },
            KeywordRule { actions: vec![], ..rule(2, words(&["ok"]), "x") },
            bad_regex,
        ],
        ..AutoReplyConfig::default()
    };
    let errs = config.validate().expect_err("invalid");
    let expected = [
        ("greeting.text", ErrorCode::UnknownVariable),
        ("away.text", ErrorCode::Unsatisfied),
        ("away.schedule", ErrorCode::Unsatisfied),
        ("quick_replies[0].buttons", ErrorCode::TooMany),
        ("quick_replies[1].shortcut", ErrorCode::Duplicate),
        ("quick_replies[1].media", ErrorCode::Required),
        ("quick_replies[1].buttons[0].title", ErrorCode::TooLong),
        ("rules[0].matcher.words[0]", ErrorCode::Required),
        ("rules[0].actions[0].quick_reply", ErrorCode::UnknownQuickReply),
        ("rules[1].actions", ErrorCode::Required),
        ("rules[2].matcher.pattern", ErrorCode::InvalidRegex),
    ];
    for (path, code) in expected {
        assert!(errs.errors.iter().any(|e| e.path == path && e.code == code), "missing {path} {code}: {errs}");
    }
    assert_eq!(errs.errors.len(), expected.len(), "{errs:#?}");
    assert!(CompiledConfig::new(&config).is_err());
    // Hours errors are reported under `hours`.
    let mut hours = office_hours();
    hours.weekly.mon.push(Interval::new(TimeOfDay::parse("16:00").expect("t"), TimeOfDay::parse("18:00").expect("t")));
    let c = AutoReplyConfig { hours: Some(hours), ..AutoReplyConfig::default() };
    assert!(c.validate().expect_err("overlap").has("hours.weekly.mon[1]"));
    // A regex too large to compile is refused, not compiled.
    let huge = AutoReplyConfig {
        rules: vec![rule(1, Matcher::Regex { pattern: r"\w{500}\w{500}\w{500}".into() }, "x")],
        ..AutoReplyConfig::default()
    };
    assert!(huge.validate().expect_err("too big").has("rules[0].matcher.pattern"));
}

// ---------- serde ----------

fn doc_example() -> serde_json::Value {
    json!({
      "business_name": "Acme Bikes",
      "locale": "es",
      "hours": {
        "time_zone": "Europe/Madrid",
        "weekly": {
          "mon": [{"start": "09:00", "end": "14:00"}, {"start": "16:00", "end": "20:00"}],
          "tue": [{"start": "09:00", "end": "20:00"}],
          "wed": [], "thu": [], "fri": [{"start": "22:00", "end": "02:00"}], "sat": [], "sun": []
        },
        "overrides": [{"date": "2026-12-25", "label": "Navidad"}]
      },
      "greeting": {
        "enabled": true,
        "text": "¡Hola {{contact.first_name}}! Gracias por escribir a {{business.name}}.",
        "after_days_of_silence": 14,
        "recipients": {"type": "everyone"},
        "only_within_business_hours": false
      },
      "away": {
        "enabled": true,
        "text": "Estamos cerrados. Volvemos {{next_open}}.",
        "schedule": {"type": "outside_business_hours"},
        "recipients": {"type": "all_except", "wa_ids": ["34600000000"]},
        "cooldown": {"once_per_period": true, "min_interval_minutes": 0},
        "skip_if_agent_replied_within_minutes": 5
      },
      "quick_replies": [{
        "id": "0193a5b0-0000-7000-8000-000000000001",
        "shortcut": "hours",
        "text": "Abrimos {{next_open}}.",
        "media": {"kind": "image", "link": "https://example.com/hours.png"},
        "buttons": [{"id": "book", "title": "Reservar"}]
      }],
      "rules": [{
        "id": "0193a5b0-0000-7000-8000-000000000002",
        "name": "Horario",
        "enabled": true,
        "matcher": {"type": "contains_word", "words": ["horario", "abierto"]},
        "actions": [
          {"type": "send_quick_reply", "quick_reply": "hours"},
          {"type": "add_labels", "labels": ["0193a5b0-0000-7000-8000-000000000003"]}
        ],
        "stop": true,
        "cooldown_minutes": 60
      }],
      "limits": {"max_auto_replies_per_contact_per_hour": 10}
    })
}

#[test]
fn the_documented_json_round_trips() {
    let config: AutoReplyConfig = serde_json::from_value(doc_example()).expect("parses");
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(config.locale.lang(), Lang::Es);
    let value = serde_json::to_value(&config).expect("serialises");
    assert_eq!(value, doc_example());
    let back: AutoReplyConfig = serde_json::from_value(value).expect("parses again");
    assert_eq!(back, config);
    // Every variant of the tagged enums round-trips too.
    let variants = json!([
        {"type": "contains_word", "words": ["a"]}, {"type": "contains", "texts": ["a"]},
        {"type": "exact", "texts": ["a"]}, {"type": "regex", "pattern": "a+"},
        {"type": "button_id", "ids": ["a"]}, {"type": "list_id", "ids": ["a"]}
    ]);
    let matchers: Vec<Matcher> = serde_json::from_value(variants.clone()).expect("matchers");
    assert_eq!(serde_json::to_value(&matchers).expect("ser"), variants);
    let recipients = json!([{"type": "everyone"}, {"type": "new_contacts"}, {"type": "only", "wa_ids": ["1555"]}]);
    let rs: Vec<Recipients> = serde_json::from_value(recipients.clone()).expect("recipients");
    assert_eq!(serde_json::to_value(&rs).expect("ser"), recipients);
}

#[test]
fn defaults_and_unknown_fields() {
    let minimal: AutoReplyConfig = serde_json::from_value(json!({})).expect("empty is valid");
    assert_eq!(minimal, AutoReplyConfig::default());
    assert_eq!(minimal.limits.max_auto_replies_per_contact_per_hour, 10);
    let g: Greeting = serde_json::from_value(json!({"text": "hi"})).expect("greeting");
    assert!(g.enabled);
    assert_eq!(
        (g.after_days_of_silence, &g.recipients, g.only_within_business_hours),
        (14, &Recipients::Everyone, false)
    );
    let a: Away = serde_json::from_value(json!({"text": "closed"})).expect("away");
    assert_eq!(a.schedule, AwaySchedule::OutsideBusinessHours);
    assert_eq!(a.cooldown, AwayCooldown { once_per_period: true, min_interval_minutes: 0 });
    assert_eq!(a.skip_if_agent_replied_within_minutes, 5);
    let r: KeywordRule = serde_json::from_value(
        json!({"matcher": {"type": "exact", "texts": ["hi"]}, "actions": [{"type": "send_text", "text": "hello"}]}),
    )
    .expect("rule");
    assert!(r.enabled && r.stop);
    assert_eq!(r.cooldown_minutes, 0);
    for bad in [
        json!({"greting": {}}),
        json!({"greeting": {"text": "x", "colour": "red"}}),
        json!({"away": {"text": "x", "recipients": {"type": "only", "wa_ids": [], "extra": 1}}}),
        json!({"rules": [{"matcher": {"type": "regex", "pattern": "a", "flags": "i"}, "actions": []}]}),
        json!({"quick_replies": [{"shortcut": "Bad Shortcut", "text": "x"}]}),
        json!({"locale": "not a locale"}),
        json!({"away": {"text": "x", "recipients": {"type": "only", "wa_ids": ["+1 555"]}}}),
    ] {
        assert!(serde_json::from_value::<AutoReplyConfig>(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn rule_refs_have_stable_strings() {
    let id = rule_id(0x0193_a5b0_0000_7000_8000_0000_0000_0002);
    let refs = [RuleRef::Greeting, RuleRef::Away, RuleRef::Keyword(id), RuleRef::QuickReply(qr_id(1))];
    for r in refs {
        assert_eq!(RuleRef::parse(&r.to_string()), Ok(r));
        assert_eq!(serde_json::from_value::<RuleRef>(serde_json::to_value(r).expect("ser")).expect("de"), r);
    }
    assert_eq!(RuleRef::Keyword(id).to_string(), "keyword:0193a5b0-0000-7000-8000-000000000002");
    assert!(RuleRef::parse("keyword:nope").is_err());
    assert!(RuleRef::parse("Greeting").is_err());
}

#[test]
fn evaluations_serialise_for_the_preview_endpoint() {
    let engine = compile(&base_config());
    let now = at(CLOSED);
    let ev = engine.evaluate_content(&Facts::new_contact(wa("34600111222")), &text("hi"), now);
    let value = serde_json::to_value(&ev).expect("serialises");
    assert_eq!(value["trace"][0], json!({"rule": "greeting", "outcome": "fired"}));
    assert_eq!(value["actions"][1]["effect"]["reply"]["type"], "text");
    let back: Evaluation = serde_json::from_value(value).expect("parses");
    assert_eq!(back, ev);
    let facts: Facts = serde_json::from_value(json!({
        "contact_wa_id": "34600111222",
        "contact_name": "Ana",
        "rule_fired": [{"rule": "away", "at": "2026-11-23T20:00:00Z"}]
    }))
    .expect("facts");
    assert_eq!(facts.last_fired(RuleRef::Away), Some(at(CLOSED)));
}

// ---------- properties ----------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Matching is insensitive to case and to accents added on Latin letters.
    #[test]
    fn case_and_accents_never_matter(word in "[a-z]{3,10}", upper in any::<bool>(), accent in 0usize..4) {
        let engine = compile(&AutoReplyConfig {
            rules: vec![rule(1, words(&[word.as_str()]), "hit")],
            ..AutoReplyConfig::default()
        });
        let marks = ["", "\u{0301}", "\u{0300}", "\u{0308}"];
        let mut decorated: String = word.chars().flat_map(|c| [c.to_string(), marks[accent].to_string()]).collect();
        if upper {
            decorated = decorated.to_uppercase();
        }
        let message = format!("well, {decorated}!");
        let got = first_reply(&engine, &text(&message));
        prop_assert_eq!(got.as_deref(), Some("hit"));
        let glued = format!("x{decorated}");
        prop_assert_eq!(first_reply(&engine, &text(&glued)), None);
    }

    /// The cap is never exceeded, whatever was sent before.
    #[test]
    fn the_cap_holds(sent in 0u32..12, limit in 0u32..8, new in any::<bool>()) {
        let mut c = base_config();
        c.limits.max_auto_replies_per_contact_per_hour = limit;
        let mut r = rule(1, words(&["price"]), "a");
        r.actions.push(RuleAction::SendText { text: "b".into() });
        r.stop = false;
        c.rules = vec![r.clone(), KeywordRule { id: rule_id(2), ..r }];
        let engine = compile(&c);
        let now = at(CLOSED);
        let mut facts = if new { Facts::new_contact(wa("1555")) } else { returning(now) };
        facts.auto_replies_last_hour = sent;
        let ev = engine.evaluate_content(&facts, &text("price"), now);
        let replies = u32::try_from(ev.replies().count()).unwrap_or(u32::MAX);
        prop_assert!(sent + replies <= limit.max(sent));
        prop_assert_eq!(ev.trace.len(), 4);
    }
}

#[test]
fn a_greeting_on_request_welcome_is_not_repeated() {
    let engine = compile(&base_config());
    let now = at(OPEN);
    let mut facts = Facts::new_contact(wa("34600111222"));
    let ev = engine.evaluate_content(&facts, &MessageContent::RequestWelcome, now);
    assert_eq!(ev.fired().collect::<Vec<_>>(), vec![RuleRef::Greeting]);
    // The store recorded the firing, but (say) not the chat opening as activity.
    facts.rule_fired.push(RuleFiring { rule: RuleRef::Greeting, at: now });
    let later = now + TimeDelta::minutes(1);
    let ev = engine.evaluate_content(&facts, &text("hi"), later);
    assert_eq!(outcome(&ev, RuleRef::Greeting), Outcome::Cooldown { until: now + TimeDelta::days(14) });
}

#[test]
fn the_engine_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<CompiledConfig>();
    shareable::<AutoReplyConfig>();
}

#[test]
fn a_contacts_language_is_their_language_attribute_when_it_is_a_language_tag() {
    let attributes = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    let pt = Locale::parse("pt-BR").ok();
    assert_eq!(Locale::of_contact(&attributes(json!({"language": "pt_br", "tier": "gold"}))), pt);
    assert_eq!(Locale::of_contact(&attributes(json!({"tier": "gold"}))), None);
    assert_eq!(Locale::of_contact(&attributes(json!({"language": 5}))), None, "not a string");
    assert_eq!(Locale::of_contact(&attributes(json!({"language": "klingon!"}))), None, "not a tag");
    assert_eq!(Locale::recorded(Some("pt_br")), pt);
    assert_eq!(Locale::recorded(None), None);
}
