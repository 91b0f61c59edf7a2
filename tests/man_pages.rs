//! The manual pages the packages install: `smtp-desk man DIR` renders them from the clap
//! definition, one page for the command and one per subcommand, so they never drift from --help.

use std::process::Command;

#[test]
fn man_writes_a_page_for_the_command_and_each_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smtp-desk")).arg("man").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "smtp-desk man failed: {}", String::from_utf8_lossy(&out.stderr));

    let main = std::fs::read_to_string(dir.path().join("smtp-desk.1")).expect("smtp-desk.1 written");
    assert!(main.starts_with(".ie") || main.contains(".TH smtp-desk 1"), "not a roff page: {main}");
    assert!(main.contains(&format!("smtp-desk {}", env!("CARGO_PKG_VERSION"))), "the page carries the version");
    // Every command `smtp-desk --help` lists has its page and is listed on the main page.
    let help = Command::new(env!("CARGO_BIN_EXE_smtp-desk")).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.contains(&"config") && commands.contains(&"sendmail"), "{commands:?}");
    for c in &commands {
        let page = format!("smtp-desk-{c}");
        assert!(dir.path().join(format!("{page}.1")).is_file(), "no page {page}.1");
        assert!(main.contains(&page.replace('-', "\\-")) || main.contains(&page), "smtp-desk.1 does not list {page}");
    }
    // Subcommands of subcommands get theirs too; the hidden `man` itself has none.
    assert!(dir.path().join("smtp-desk-config-set.1").is_file());
    assert!(!dir.path().join("smtp-desk-man.1").exists(), "the hidden man command got a page");
}

#[test]
fn man_into_an_unwritable_place_fails_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smtp-desk")).arg("man").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("can't write the manual pages") && err.contains("not-a-dir"), "{err}");
}
