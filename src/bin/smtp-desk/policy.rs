//! `smtp-desk policy`: the admin policy on this machine — where its file is, whether it is in
//! force, every lock and rule with its reason, and whether the settings follow it.

use crate::{Outcome, EXIT_FAILURE};
use smtp_desk::error::ErrorReport;
use smtp_desk::policy::{self, State};
use smtp_desk::settings;

#[derive(clap::Args)]
pub struct PolicyArgs {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub const POLICY_HELP: &str = "The policy file is /etc/smtp-desk/policy.json on Linux, /Library/Application Support/SMTP Desk/policy.json \
on macOS and %ProgramData%\\SMTP Desk\\policy.json on Windows; SMTP_DESK_POLICY names another file. Exit code 1 when the file is invalid \
(nothing is sent until it is fixed). See docs/policy.md.";

pub fn run(args: PolicyArgs) -> Outcome {
    let state = policy::load();
    let path = state.path();
    let from_env = std::env::var_os(policy::PATH_VAR).is_some_and(|v| !v.is_empty());
    // The settings are read only to say whether they follow the policy; a missing or unusable
    // settings file does not stop the policy from being shown.
    let current = smtp_desk::paths::settings_file().ok().and_then(|p| settings::load_from(&p).ok()).map(|l| l.settings);
    let violations = match (&state, &current) {
        (State::Active { .. }, Some(s)) => state.check_settings(s),
        _ => Vec::new(),
    };
    let (name, problem) = match &state {
        State::Absent => ("absent", None),
        State::Active { .. } => ("active", None),
        State::Invalid { problem, .. } => ("invalid", Some(problem.clone())),
    };
    if args.json {
        let out = serde_json::json!({
            "path": path,
            "env_var": policy::PATH_VAR,
            "from_env": from_env,
            "state": name,
            "problem": problem,
            "policy": state.policy(),
            "locks": state.locks(),
            "violations": violations,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
    } else {
        let source = if from_env {
            format!("named by {}", policy::PATH_VAR)
        } else {
            format!("the system location; {} names another file", policy::PATH_VAR)
        };
        println!("Policy file: {} ({source})", path.display());
        match &state {
            State::Absent => println!("State:       absent — nothing is enforced"),
            State::Invalid { problem, .. } => {
                println!("State:       INVALID — nothing is sent until it is fixed");
                for p in problem.split("; ") {
                    println!("  {p}");
                }
            }
            State::Active { policy: p, .. } => {
                println!("State:       active");
                if !p.reason.is_empty() {
                    println!("Reason:      {}", p.reason);
                }
                let locks = state.locks();
                if !locks.is_empty() {
                    println!("Locked fields:");
                    for l in &locks {
                        println!("  {:<28} = {:<14} {}", l.field, l.value.to_string(), l.reason);
                    }
                }
                let why = if p.reason.is_empty() { String::new() } else { format!(" ({})", p.reason) };
                let mut rules = Vec::new();
                if p.require_tls {
                    rules.push(format!("require_tls: mail leaves only over TLS (STARTTLS or implicit TLS){why}"));
                }
                if !p.allowed_relay_hosts.is_empty() {
                    rules.push(format!("allowed_relay_hosts: only {}{why}", p.allowed_relay_hosts.join(", ")));
                }
                if let Some(d) = &p.sender_domain {
                    rules.push(format!("sender_domain: mail only from addresses @{d}{why}"));
                }
                if !rules.is_empty() {
                    println!("Rules:");
                    rules.iter().for_each(|r| println!("  {r}"));
                }
                if locks.is_empty() && rules.is_empty() {
                    println!("The policy decides nothing.");
                }
                match (&current, violations.is_empty()) {
                    (None, _) => {}
                    (Some(_), true) => println!("The settings follow the policy."),
                    (Some(_), false) => {
                        println!("The settings break the policy (saving fixes locked fields; correct the others):");
                        violations.iter().for_each(|i| println!("  {}: {}", i.field, i.message));
                    }
                }
            }
        }
    }
    state.ready().map_err(|e| (EXIT_FAILURE, ErrorReport::from(&e)))
}
