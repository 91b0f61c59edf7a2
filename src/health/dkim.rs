//! The DKIM line: a record published for our selector. With a key made by SMTP Desk
//! (`direct::dkim::key_info`), DNS must hold that key (`direct::dkim::check`); without one (or
//! when keys can't be read), the TXT at `SELECTOR._domainkey.DOMAIN` must at least be a DKIM key.

use super::{Check, Context, Line};
use crate::direct::dkim::{self, Published};
use crate::dns;
use std::time::Duration;

/// The line, and whether mail we send can pass DKIM as `ctx.dkim_domain` (for DMARC).
pub struct Dkim {
    pub line: Line,
    pub published: bool,
}

pub async fn check(ctx: &Context, limit: Duration) -> Dkim {
    let (settings, name) = (ctx.settings.clone(), ctx.profile_name.clone());
    // key_info may read the keyring: never on a runtime thread.
    let stored = tokio::task::spawn_blocking(move || dkim::key_info(&settings, &name)).await.ok().and_then(Result::ok);
    let enabled = ctx.profile.dkim.enabled;
    let line = match stored {
        Some(Some(info)) => {
            let published = tokio::time::timeout(limit, dkim::check(&ctx.resolver, &info))
                .await
                .unwrap_or_else(|_| Published::Unknown(format!("no answer within {} s", limit.as_secs_f32())));
            let record = format!("{}. TXT \"{}\"", info.record_name, info.record_value);
            match published {
                Published::Matches => found(ctx, format!("our key is published at {}", info.record_name)),
                Published::Missing => Line::failed(
                    Check::Dkim,
                    format!("no DKIM record at {}", info.record_name),
                    "Publish the record below at your DNS provider; until then signed mail fails DKIM.",
                )
                .publish(record),
                Published::Different(what) => Line::failed(
                    Check::Dkim,
                    format!("{} holds another key: {what}", info.record_name),
                    "Replace it with the record below (or make a key for another selector).",
                )
                .publish(record),
                Published::Unknown(why) => Line::unknown(
                    Check::Dkim,
                    format!("looking up {} failed: {why}", info.record_name),
                    "Check this machine's DNS, then run the check again.",
                ),
            }
        }
        _ => look_up(ctx, limit, enabled).await,
    };
    let published = enabled && matches!(line.status, super::Status::Ok);
    Dkim { line, published }
}

/// The line when the record is there: a warning while signing is off.
fn found(ctx: &Context, summary: String) -> Line {
    if ctx.profile.dkim.enabled {
        Line::ok(Check::Dkim, summary)
    } else {
        Line::warning(Check::Dkim, format!("{summary}, but DKIM signing is off"), "Turn signing on: smtp-desk config set dkim.enabled true")
    }
}

/// Without our key: is there a DKIM key record at our selector at all?
async fn look_up(ctx: &Context, limit: Duration, enabled: bool) -> Line {
    let name = format!("{}._domainkey.{}", ctx.profile.dkim.selector.trim(), ctx.dkim_domain);
    let make = "Make a key and publish the record it shows: smtp-desk dkim generate";
    match tokio::time::timeout(limit, dns::txt(&ctx.resolver, &name)).await {
        Ok(Ok(records)) => {
            // The first record that is a DKIM key (v=DKIM1 if tagged, with a p= tag): its p= value.
            let key = records.iter().find_map(|r| {
                let tags: Vec<(String, String)> = r
                    .split(';')
                    .filter_map(|t| t.split_once('='))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.split_whitespace().collect::<String>()))
                    .collect();
                let v_ok = tags.iter().find(|(k, _)| k == "v").is_none_or(|(_, v)| v.eq_ignore_ascii_case("DKIM1"));
                tags.into_iter().find(|(k, _)| k == "p").filter(|_| v_ok).map(|(_, p)| p)
            });
            match key {
                Some(p) if p.is_empty() => Line::failed(Check::Dkim, format!("the key at {name} is revoked (empty p=)"), make),
                Some(_) => found(ctx, format!("a DKIM key (v=DKIM1) is published at {name}")),
                None => Line::failed(Check::Dkim, format!("{name} holds no DKIM key (no v=DKIM1 record with p=)"), make),
            }
        }
        Ok(Err(f)) if f.is_absent() => {
            let summary = format!("no DKIM record at {name}");
            if enabled {
                Line::failed(Check::Dkim, summary, format!("{make} (signed mail fails DKIM until it is published)."))
            } else {
                Line::warning(
                    Check::Dkim,
                    format!("{summary}; DKIM signing is off"),
                    format!("{make}, then: smtp-desk config set dkim.enabled true"),
                )
            }
        }
        Ok(Err(f)) => {
            Line::unknown(Check::Dkim, format!("looking up {name} failed: {f}"), "Check this machine's DNS, then run the check again.")
        }
        Err(_) => Line::unknown(
            Check::Dkim,
            format!("looking up {name}: no answer within {} s", limit.as_secs_f32()),
            "Check this machine's DNS.",
        ),
    }
}
