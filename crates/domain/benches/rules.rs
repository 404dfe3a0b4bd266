//! Auto-reply evaluation with 100 keyword rules (target: under 20 µs per message).
//!
//! Run: `cargo bench -p switchboard-domain --bench rules`
//!
//! The configuration is a realistic worst case: business hours with a holiday, a greeting,
//! an away message, 100 keyword rules (70 whole-word lists in several languages and
//! scripts, 10 substring, 10 exact, 5 regex, 5 button ids), and facts with ten earlier
//! firings. Each message is evaluated against every rule (the trace covers all 100).

use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_domain::autoreply::{
    AutoReplyConfig, Away, AwayCooldown, AwaySchedule, CompiledConfig, Facts, Greeting, KeywordRule, Limits, Locale,
    Matcher, Recipients, RuleAction, RuleFiring, RuleRef,
};
use switchboard_domain::hours::{BusinessHours, DateOverride, Interval, TimeOfDay, WeeklyHours};
use switchboard_domain::message::{InteractiveReply, MessageContent};
use switchboard_domain::{RuleId, WaId};

const WORDS: [&str; 30] = [
    "price",
    "preço",
    "precio",
    "prix",
    "preis",
    "hours",
    "horario",
    "horaire",
    "öffnungszeiten",
    "delivery",
    "entrega",
    "livraison",
    "lieferung",
    "refund",
    "reembolso",
    "remboursement",
    "rückerstattung",
    "order",
    "pedido",
    "commande",
    "bestellung",
    "address",
    "dirección",
    "endereço",
    "adresse",
    "سعر",
    "कीमत",
    "价格",
    "営業時間",
    "가격",
];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("valid instant").with_timezone(&Utc)
}

fn hours() -> BusinessHours {
    let t = |s| TimeOfDay::parse(s).expect("time");
    let mut weekly =
        WeeklyHours::every_day(&[Interval::new(t("09:00"), t("13:00")), Interval::new(t("14:00"), t("18:00"))]);
    weekly.sat = vec![Interval::new(t("10:00"), t("14:00"))];
    weekly.sun.clear();
    let mut h = BusinessHours { time_zone: "Europe/Berlin".parse().expect("zone"), weekly, overrides: vec![] };
    h.overrides.push(DateOverride::closed(chrono::NaiveDate::from_ymd_opt(2026, 12, 25).expect("date")));
    h
}

fn rule(i: usize, matcher: Matcher) -> KeywordRule {
    KeywordRule {
        id: RuleId::from_uuid(uuid::Uuid::from_u128(i as u128 + 1)),
        name: format!("rule {i}"),
        enabled: true,
        matcher,
        actions: vec![RuleAction::SendText { text: format!("Answer {i} for {{{{contact.first_name|you}}}}") }],
        stop: true,
        cooldown_minutes: 10,
    }
}

fn config() -> AutoReplyConfig {
    let mut rules = Vec::with_capacity(100);
    for i in 0..70 {
        // Three words each, drawn from the multilingual list plus a unique one.
        let words = vec![
            format!("{}{}", WORDS[i % WORDS.len()], i / WORDS.len()),
            WORDS[(i * 7) % WORDS.len()].to_owned(),
            format!("kw{i}"),
        ];
        rules.push(rule(i, Matcher::ContainsWord { words }));
    }
    for i in 70..80 {
        rules.push(rule(i, Matcher::Contains { texts: vec![format!("sub{i}"), format!("fragment{i}")] }));
    }
    for i in 80..90 {
        rules.push(rule(i, Matcher::Exact { texts: vec![format!("menu {i}"), format!("option {i}")] }));
    }
    for i in 90..95 {
        rules.push(rule(i, Matcher::Regex { pattern: format!(r"\bticket\s*#?{i}\d{{3,}}") }));
    }
    for i in 95..100 {
        rules.push(rule(i, Matcher::ButtonId { ids: vec![format!("btn_{i}")] }));
    }
    AutoReplyConfig {
        business_name: "Acme Bikes".into(),
        locale: Locale::parse("en").expect("locale"),
        hours: Some(hours()),
        greeting: Some(Greeting {
            enabled: true,
            text: "Hi {{contact.first_name|there}}, welcome to {{business.name}}!".into(),
            after_days_of_silence: 14,
            recipients: Recipients::Everyone,
            only_within_business_hours: false,
        }),
        away: Some(Away {
            enabled: true,
            text: "We are closed. Back {{next_open}}.".into(),
            schedule: AwaySchedule::OutsideBusinessHours,
            recipients: Recipients::Everyone,
            cooldown: AwayCooldown::default(),
            skip_if_agent_replied_within_minutes: 5,
        }),
        quick_replies: vec![],
        rules,
        limits: Limits { max_auto_replies_per_contact_per_hour: 10 },
    }
}

fn facts(now: DateTime<Utc>) -> Facts {
    let mut f = Facts::new_contact(WaId::parse("34600111222").expect("wa_id"));
    f.is_new_contact = false;
    f.contact_name = Some("Ana María López".into());
    f.last_contact_activity = Some(now - TimeDelta::hours(3));
    f.last_agent_reply = Some(now - TimeDelta::hours(2));
    f.auto_replies_last_hour = 2;
    f.rule_fired = (0..10)
        .map(|i| RuleFiring {
            rule: RuleRef::Keyword(RuleId::from_uuid(uuid::Uuid::from_u128(i * 7 + 1))),
            at: now - TimeDelta::hours(i as i64 + 1),
        })
        .collect();
    f.rule_fired.push(RuleFiring { rule: RuleRef::Away, at: now - TimeDelta::minutes(30) });
    f
}

fn text(s: &str) -> MessageContent {
    MessageContent::Text { body: s.to_owned() }
}

fn bench(c: &mut Criterion) {
    let config = config();
    let engine = CompiledConfig::new(&config).expect("valid configuration");
    let open = at("2026-11-24T10:30:00Z"); // Tuesday 11:30 in Berlin
    let closed = at("2026-11-24T20:30:00Z"); // Tuesday 21:30
    let returning_open = facts(open);
    let returning_closed = facts(closed);
    let new_contact = Facts::new_contact(WaId::parse("34600999888").expect("wa_id"));

    let cases: [(&str, &Facts, MessageContent, DateTime<Utc>); 9] = [
        (
            "no_match_ascii_open",
            &returning_open,
            text("Hello, I would like to know something about the bike I bought last week"),
            open,
        ),
        (
            "no_match_ascii_closed",
            &returning_closed,
            text("Hello, I would like to know something about the bike I bought last week"),
            closed,
        ),
        ("match_last_word_rule", &returning_open, text("Hi! what about kw69 and the rest?"), open),
        (
            "unicode_accents_match",
            &returning_open,
            text("¿Cuál es el PRÉCIO de la bicicleta eléctrica, por favor? Gracias"),
            open,
        ),
        ("cjk_match", &returning_open, text("请问这辆自行车的价格是多少？"), open),
        (
            "no_match_unicode",
            &returning_open,
            text("Olá, gostaria de saber mais sobre a bicicleta elétrica que comprei — obrigado! 🙏"),
            open,
        ),
        (
            "no_match_arabic",
            &returning_open,
            text("مرحبا، أريد أن أعرف متى تصل الدراجة التي طلبتها الأسبوع الماضي"),
            open,
        ),
        (
            "button_reply",
            &returning_open,
            MessageContent::Interactive(InteractiveReply::ButtonReply { id: "btn_99".into(), title: "More".into() }),
            open,
        ),
        ("first_contact_closed_greeting_away", &new_contact, text("hello"), closed),
    ];

    let mut group = c.benchmark_group("evaluate_100_rules");
    for (name, facts, content, now) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(engine.evaluate_content(black_box(facts), black_box(content), black_box(*now))));
        });
    }
    group.finish();

    c.bench_function("compile_100_rules", |b| b.iter(|| black_box(CompiledConfig::new(black_box(&config)))));

    let h = hours();
    c.bench_function("hours_is_open", |b| b.iter(|| black_box(h.is_open(black_box(closed)))));
    c.bench_function("hours_next_open", |b| b.iter(|| black_box(h.next_open(black_box(closed)))));
    c.bench_function("hours_period_since", |b| b.iter(|| black_box(h.period_since(black_box(closed)))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
