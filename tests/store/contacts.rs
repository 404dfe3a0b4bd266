//! Contacts: the CRM view's list, search, visibility, and edits.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use switchboard_domain::{AgentRole, ContactId, WaId};
use switchboard_store::{ContactPatch, ContactPatchOutcome, ContactQuery, Store, TeamName, Visibility};

use crate::fixtures::{channel, t};
use crate::views::{agent, conversation};

conformance!(stories: [
    contacts_list_newest_first_search_and_respect_visibility,
    contact_edits_merge_attributes_within_the_limit,
]);

fn query(viewer: Visibility, search: Option<&str>, limit: u32, after: Option<ContactId>) -> ContactQuery {
    ContactQuery { viewer, search: search.map(str::to_owned), limit, after }
}

async fn names(store: &dyn Store, q: &ContactQuery) -> Vec<String> {
    let page = store.contacts(q).await.unwrap();
    page.items.iter().map(|c| c.name.clone().or_else(|| c.profile_name.clone()).unwrap_or_default()).collect()
}

fn attrs(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn updated(o: ContactPatchOutcome) -> switchboard_store::Contact {
    match o {
        ContactPatchOutcome::Updated(c) => c,
        other => panic!("expected an update, got {other:?}"),
    }
}

async fn contacts_list_newest_first_search_and_respect_visibility(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let x = agent(s, 1, AgentRole::Agent).await;
    let a = channel(s, "106540352242922").await.id;
    let b = channel(s, "106540352242923").await.id;
    let team = s.create_team(&TeamName::parse("Berlin").unwrap(), t(0)).await.unwrap().id;
    s.route_channel(b, Some(team)).await.unwrap();
    let c1 = conversation(s, a, "16505550001", "José Álvarez", "hola", t(1)).await;
    conversation(s, a, "16505550002", "प्रिया शर्मा", "hello", t(2)).await;
    conversation(s, b, "16505550333", "Jonas", "Hallo", t(3)).await;
    let all = Visibility::All;
    assert_eq!(names(s, &query(all, None, 50, None)).await, ["Jonas", "प्रिया शर्मा", "José Álvarez"]);
    // By number, exactly.
    let by_number = s.contact_by_wa_id(&WaId::parse("16505550001").unwrap()).await.unwrap().unwrap();
    assert_eq!(by_number.id, s.conversation(c1).await.unwrap().unwrap().contact.id);
    assert!(s.contact_by_wa_id(&WaId::parse("1650555000").unwrap()).await.unwrap().is_none());
    // Pages.
    let first = s.contacts(&query(all, None, 2, None)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let rest = s.contacts(&query(all, None, 2, first.next)).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());
    // Search by name or number, any script, any case.
    assert_eq!(names(s, &query(all, Some("álvarez"), 50, None)).await, ["José Álvarez"]);
    assert_eq!(names(s, &query(all, Some("शर्मा"), 50, None)).await, ["प्रिया शर्मा"]);
    assert_eq!(names(s, &query(all, Some("5550333"), 50, None)).await, ["Jonas"]);
    assert!(names(s, &query(all, Some("nobody"), 50, None)).await.is_empty());
    // Agents see the contacts of conversations they may see.
    let seen = names(s, &query(Visibility::Agent(x), None, 50, None)).await;
    assert_eq!(seen, ["प्रिया शर्मा", "José Álvarez"]);
    let jonas = s.contacts(&query(all, Some("Jonas"), 50, None)).await.unwrap().items[0].id;
    assert!(!s.may_see_contact(Visibility::Agent(x), jonas).await.unwrap());
    assert!(s.may_see_contact(Visibility::All, jonas).await.unwrap());
    let jose = s.conversation(c1).await.unwrap().unwrap().contact.id;
    assert!(s.may_see_contact(Visibility::Agent(x), jose).await.unwrap());
    assert!(!s.may_see_contact(Visibility::All, ContactId::new()).await.unwrap());
    // The name agents give is found and shown.
    let patch = ContactPatch { name: Some(Some("Pepe".into())), attributes: Map::new() };
    updated(s.update_contact(jose, &patch, t(10)).await.unwrap());
    assert_eq!(names(s, &query(all, Some("pepe"), 50, None)).await, ["Pepe"]);
    assert_eq!(s.conversation(c1).await.unwrap().unwrap().contact.name.as_deref(), Some("Pepe"));
}

async fn contact_edits_merge_attributes_within_the_limit(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let a = channel(s, "106540352242922").await.id;
    let c = conversation(s, a, "16505550001", "Ana", "hola", t(1)).await;
    let id = s.conversation(c).await.unwrap().unwrap().contact.id;
    let before = s.contact(id).await.unwrap().unwrap();
    assert_eq!((before.name.as_deref(), before.profile_name.as_deref()), (None, Some("Ana")));
    assert!(before.attributes.is_empty());
    assert_eq!(before.wa_id.as_str(), "16505550001");

    let patch = ContactPatch {
        name: Some(Some("Ana María".into())),
        attributes: attrs(json!({"plan": "gold", "orders": 3, "vip": true, "gone": null})),
    };
    let c1 = updated(s.update_contact(id, &patch, t(5)).await.unwrap());
    assert_eq!(c1.name.as_deref(), Some("Ana María"));
    assert_eq!(Value::Object(c1.attributes.clone()), json!({"plan": "gold", "orders": 3, "vip": true}));
    assert_eq!(c1.updated_at, t(5));
    // Merge: null deletes, others set, untouched keys stay; the name stays when absent.
    let patch = ContactPatch { name: None, attributes: attrs(json!({"plan": null, "orders": 4.5, "city": "Pune"})) };
    let c2 = updated(s.update_contact(id, &patch, t(6)).await.unwrap());
    assert_eq!(c2.name.as_deref(), Some("Ana María"));
    assert_eq!(Value::Object(c2.attributes.clone()), json!({"orders": 4.5, "vip": true, "city": "Pune"}));
    // Clearing the name.
    let c3 =
        updated(s.update_contact(id, &ContactPatch { name: Some(None), attributes: Map::new() }, t(7)).await.unwrap());
    assert_eq!(c3.name, None);
    assert_eq!(s.contact(id).await.unwrap().unwrap(), c3);
    // At most 50 attributes: the 51st is refused and nothing changes.
    let many: Map<String, Value> = (0..47).map(|i| (format!("k{i}"), json!(i))).collect();
    let c4 = updated(s.update_contact(id, &ContactPatch { name: None, attributes: many }, t(8)).await.unwrap());
    assert_eq!(c4.attributes.len(), 50);
    let one_more = attrs(json!({"extra": "x"}));
    let o = s.update_contact(id, &ContactPatch { name: Some(Some("No".into())), attributes: one_more }, t(9)).await;
    assert_eq!(o.unwrap(), ContactPatchOutcome::TooManyAttributes { count: 51 });
    assert_eq!(s.contact(id).await.unwrap().unwrap(), c4);
    // Replacing one while deleting another stays within the limit.
    let swap = attrs(json!({"extra": "x", "k0": null}));
    assert_eq!(
        updated(s.update_contact(id, &ContactPatch { name: None, attributes: swap }, t(10)).await.unwrap())
            .attributes
            .len(),
        50
    );
    // Unknown contacts.
    let o = s.update_contact(ContactId::new(), &ContactPatch::default(), t(11)).await.unwrap();
    assert_eq!(o, ContactPatchOutcome::NotFound);
    assert!(s.contact(ContactId::new()).await.unwrap().is_none());
}
