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
///
/// A named profile's override that the edit added or removed is applied as such, so resetting a
/// field to "inherited" or deleting a profile in one place survives a save made in the other.
pub fn merge(base: &Settings, edited: &Settings, current: &Settings, keep_mine: &[String]) -> Result<Settings, Vec<Conflict>> {
    let (base, edited) = (flatten(base), flatten(edited));
    let mut now = flatten(current);
    let mut conflicts = Vec::new();
    let keys: std::collections::BTreeSet<&Path> = base.keys().chain(edited.keys()).collect();
    for path in keys {
        let (was, mine) = (base.get(path), edited.get(path));
        // The schema number is the file's layout, not a setting anyone edits.
        if mine == was || path.first().map(String::as_str) == Some("schema") {
            continue;
        }
        let theirs = now.get(path);
        let name = field_name(path);
        if theirs != was && theirs != mine && !keep_mine.contains(&name) {
            let value = |v: Option<&Value>| v.cloned().unwrap_or(Value::Null);
            conflicts.push(Conflict { field: name, base: value(was), mine: value(mine), theirs: value(theirs) });
            continue;
        }
        match mine {
            Some(v) => now.insert(path.clone(), v.clone()),
            None => now.remove(path),
        };
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    Ok(serde_json::from_value(unflatten(now)).expect("a merge of three valid settings has the settings' shape"))
}

/// A leaf's place in the settings document: object keys from the top. A named profile's
/// override key (`relay.host`) is one segment, as it is one key in the file.
type Path = Vec<String>;

/// Every leaf of the settings by path. Objects are walked except the overrides; an empty object
/// is a leaf of its own, so a profile that overrides nothing is still there.
fn flatten(settings: &Settings) -> BTreeMap<Path, Value> {
    fn walk(path: &mut Path, v: Value, out: &mut BTreeMap<Path, Value>) {
        let is_overrides = path.len() == 2 && path[0] == "profiles";
        match v {
            Value::Object(map) if !map.is_empty() && !is_overrides => {
                for (k, v) in map {
                    path.push(k);
                    walk(path, v, out);
                    path.pop();
                }
            }
            Value::Object(map) if is_overrides && !map.is_empty() => {
                for (k, v) in map {
                    let mut p = path.clone();
                    p.push(k);
                    out.insert(p, v);
                }
                // The profile itself, so removing its last override does not remove it.
                out.insert(path.clone(), Value::Object(Default::default()));
            }
            leaf => {
                out.insert(path.clone(), leaf);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&mut Vec::new(), serde_json::to_value(settings).expect("settings always serialise"), &mut out);
    out
}

/// The document [`flatten`] took apart, with the paths as they are now.
fn unflatten(leaves: BTreeMap<Path, Value>) -> Value {
    let mut doc = Value::Object(Default::default());
    for (path, value) in leaves {
        let Some((last, parents)) = path.split_last() else { continue };
        let mut node = &mut doc;
        for part in parents {
            node = node
                .as_object_mut()
                .expect("a path's parents are objects")
                .entry(part.clone())
                .or_insert_with(|| Value::Object(Default::default()));
        }
        let map = node.as_object_mut().expect("a path's parents are objects");
        // An empty-object leaf (a profile) must not wipe overrides placed before it.
        let keep = value.as_object().is_some_and(|m| m.is_empty()) && map.get(last).is_some_and(Value::is_object);
        if !keep {
            map.insert(last.clone(), value);
        }
    }
    doc
}

/// The name people use for a path: a Global field's dotted key (`relay.host`, without `profile.`),
/// a named profile's as `profiles.NAME.KEY`.
fn field_name(path: &Path) -> String {
    match path.first().map(String::as_str) {
        Some("profile") => path[1..].join("."),
        _ => path.join("."),
    }
}
