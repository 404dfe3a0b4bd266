//! Contacts' custom attributes: how many, and how a patch applies.

use serde_json::{Map, Value};

/// The most custom attributes a contact has.
pub const MAX_CONTACT_ATTRIBUTES: usize = 50;

/// `attributes` with the merge patch applied: `null` deletes, anything else sets.
#[must_use]
pub fn merge_attributes(attributes: &Map<String, Value>, patch: &Map<String, Value>) -> Map<String, Value> {
    let mut out = attributes.clone();
    for (k, v) in patch {
        if v.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn null_deletes_and_anything_else_sets() {
        let before = map(json!({"plan": "gold", "vip": true, "age": 40}));
        let patch = map(json!({"plan": null, "vip": false, "city": "Lyon", "missing": null}));
        assert_eq!(merge_attributes(&before, &patch), map(json!({"vip": false, "age": 40, "city": "Lyon"})));
        assert_eq!(merge_attributes(&before, &Map::new()), before);
    }
}
