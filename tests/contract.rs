//! The contract between the core and the window: the generated TypeScript bindings are current,
//! and the window's command list is the same in all the places Tauri needs it.

use smtp_desk::contract::Scope;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Fails when a Rust type that crosses IPC changed and `ui/src/generated/` was not regenerated.
/// `UPDATE_BINDINGS=1` rewrites the files instead (scripts/gen-bindings.sh). Files no core type
/// makes are the window's check's business (src-tauri/src/contract.rs).
#[test]
fn typescript_bindings_are_current() {
    if let Err(problems) = smtp_desk::contract::sync(&root().join("ui/src/generated"), Scope::Made, smtp_desk::contract::export_core) {
        panic!("{problems}");
    }
}

/// The field registry names every leaf of the settings profile exactly once, and nothing else:
/// a new setting can't be added to the model without its label, help and range.
#[test]
fn the_field_registry_covers_the_profile() {
    fn leaves(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value.as_object() {
            Some(map) => map.iter().for_each(|(k, v)| leaves(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out)),
            None => out.push(prefix.to_string()),
        }
    }
    let mut model = Vec::new();
    leaves("", &serde_json::to_value(smtp_desk::settings::Profile::default()).unwrap(), &mut model);
    let model: BTreeSet<String> = model.into_iter().collect();
    let fields = smtp_desk::settings::fields::FIELDS;
    let registry: BTreeSet<String> = fields.iter().map(|f| f.name.to_string()).collect();
    assert_eq!(registry.len(), fields.len(), "a key is listed twice");
    assert_eq!(model, registry);
    for f in fields.iter().filter(|f| f.name.starts_with("limits.")) {
        assert!(f.range.is_some() && !f.unit.is_empty(), "{} has no range or unit", f.name);
    }
}

/// The quoted strings between `start` and the next `end` in `text`.
fn quoted_between(text: &str, start: &str, end: &str) -> Vec<String> {
    let from = text.find(start).unwrap_or_else(|| panic!("'{start}' not found")) + start.len();
    let body = &text[from..from + text[from..].find(end).unwrap_or_else(|| panic!("'{end}' not found after '{start}'"))];
    body.split('"').skip(1).step_by(2).map(String::from).collect()
}

/// The commands each place declares: `build.rs` (which permissions Tauri generates), the capability
/// (which the page is granted), `main.rs` (which are handled), and the ones `ipc.ts` calls.
struct CommandLists {
    build: BTreeSet<String>,
    capability: BTreeSet<String>,
    handler: BTreeSet<String>,
    called: BTreeSet<String>,
}

fn command_lists(src_tauri: &Path) -> CommandLists {
    let text = |name: &str| std::fs::read_to_string(src_tauri.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let build = quoted_between(&text("build.rs"), "const COMMANDS: &[&str] = &[", "];").into_iter().collect();

    let capability: serde_json::Value = serde_json::from_str(&text("capabilities/main-window.json")).unwrap();
    let capability = capability["permissions"]
        .as_array()
        .expect("the capability lists permissions")
        .iter()
        .filter_map(|p| p.as_str())
        // `core:…` and plugin permissions have a prefix; the app's own are `allow-<command>`.
        .filter_map(|p| p.strip_prefix("allow-"))
        .map(|p| p.replace('-', "_"))
        .collect();

    let main = text("src/main.rs");
    let from = main.find("generate_handler![").expect("main.rs calls generate_handler!") + "generate_handler![".len();
    let handler = main[from..from + main[from..].find(']').unwrap()]
        .split(',')
        .map(|path| path.trim().rsplit("::").next().unwrap_or_default().to_string())
        .filter(|name| !name.is_empty())
        .collect();

    let ipc = read("ui/src/ipc.ts");
    let called = ipc
        .match_indices("call")
        .filter_map(|(at, _)| {
            // call("name" …) or call<T>("name" …)
            let rest = &ipc[at + "call".len()..];
            let rest = if rest.starts_with('<') { &rest[rest.find('>')? + 1..] } else { rest };
            let name = rest.strip_prefix("(\"")?;
            Some(name[..name.find('"')?].to_string())
        })
        .collect();
    CommandLists { build, capability, handler, called }
}

/// Tauri needs the app's commands in three places, and a command missing from one fails only at
/// run time ("not allowed", "not found"). They must be the same set, and the page may call no other.
#[test]
fn window_commands_are_declared_alike() {
    let lists = command_lists(&root().join("src-tauri"));
    assert!(!lists.build.is_empty(), "no commands found in src-tauri/build.rs");
    let differ = |name: &str, other: &BTreeSet<String>| {
        let missing: Vec<_> = lists.build.difference(other).collect();
        let extra: Vec<_> = other.difference(&lists.build).collect();
        (!missing.is_empty() || !extra.is_empty())
            .then(|| format!("{name}: lacks {missing:?}, has {extra:?} that src-tauri/build.rs (COMMANDS) does not"))
    };
    let problems: Vec<String> = [
        differ("src-tauri/capabilities/main-window.json (allow-…)", &lists.capability),
        differ("src-tauri/src/main.rs (generate_handler!)", &lists.handler),
    ]
    .into_iter()
    .flatten()
    .chain(
        lists
            .called
            .difference(&lists.build)
            .map(|c| format!("ui/src/ipc.ts calls '{c}', which src-tauri/build.rs (COMMANDS) does not declare")),
    )
    .collect();
    assert!(problems.is_empty(), "the window's command lists differ:\n  {}", problems.join("\n  "));
    assert!(!lists.called.is_empty(), "no call(\"…\") found in ui/src/ipc.ts: has its shape changed?");
}
