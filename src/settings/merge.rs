//! Three-way merge of settings by flattened key path: an edit that began from `base` is applied
//! onto the file as it is now, field by field, so a change made elsewhere meanwhile is kept.

use super::Settings;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A field changed both in this edit and in the file since the edit began, to different values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The dotted key, as `config set` and the window's fields name it (`relay.host`).
    pub field: String,
    /// What the edit started from.
    pub base: Value,
    /// What this edit sets.
    pub mine: Value,
    /// What the file holds now.
    pub theirs: Value,
}

/// Applies the fields that differ between `base` and `edited` onto `current`. A field that
/// `current` also changed, to another value, is a conflict unless it is listed in `keep_mine`
/// (the user saw that conflict and chose their own value). Nothing is applied if any conflict remains.
pub fn merge(base: &Settings, edited: &Settings, current: &Settings, keep_mine: &[String]) -> Result<Settings, Vec<Conflict>> {
    let (base, edited) = (flatten(base), flatten(edited));
    let mut doc = serde_json::to_value(current).expect("settings always serialise");
    let now = flatten(current);
    let mut conflicts = Vec::new();
    for (field, mine) in &edited {
        let was = base.get(field).unwrap_or(&Value::Null);
        // The schema number is the file's layout, not a setting anyone edits.
        if mine == was || field == "schema" {
            continue;
        }
        let theirs = now.get(field).unwrap_or(&Value::Null);
        let name = field_name(field);
        if theirs != was && theirs != mine && !keep_mine.iter().any(|k| k == name) {
            conflicts.push(Conflict { field: name.to_string(), base: was.clone(), mine: mine.clone(), theirs: theirs.clone() });
            continue;
        }
        let pointer = format!("/{}", field.replace('.', "/"));
        if let Some(slot) = doc.pointer_mut(&pointer) {
            *slot = mine.clone();
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    Ok(serde_json::from_value(doc).expect("a merge of three valid settings has the settings' shape"))
}

/// Every leaf of the settings as `dotted.key → value`; objects are walked, anything else is a leaf.
fn flatten(settings: &Settings) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", serde_json::to_value(settings).expect("settings always serialise"), &mut out);
    out
}

/// The profile's dotted keys drop their `profile.` prefix: the names people use.
fn field_name(key: &str) -> &str {
    key.strip_prefix("profile.").unwrap_or(key)
}
