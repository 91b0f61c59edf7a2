//! Envelope addresses at intake: reading them from a command line, a header or an SMTP command,
//! refusing ones that could smuggle a line, and sending bare local names (`root`) where the settings say.

use super::Error;

/// Reads a recipient argument or header value: a list of addresses (`a@b, Name <c@d>`, groups),
/// reduced to the bare addresses in order. Empty groups (`undisclosed-recipients:;`) give none.
pub fn parse_list(text: &str, what: &str) -> Result<Vec<String>, Error> {
    refuse_line_breaks(text)?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    match mailparse::addrparse(text) {
        Ok(list) => collect(&list, &mut out),
        // mailparse wants an '@' in every address; cron and scripts name bare local users
        // (`root`, `To: root`), so read item by item and let bare names through.
        Err(e) => {
            for item in top_level_items(text) {
                let inner = match (item.find('<'), item.rfind('>')) {
                    (Some(a), Some(b)) if a < b => item[a + 1..b].trim(),
                    _ => item,
                };
                if is_bare_name(inner) {
                    out.push(inner.to_string());
                    continue;
                }
                let list = mailparse::addrparse(item).map_err(|_| Error::BadAddress {
                    address: text.to_string(),
                    why: format!("in {what} can't be read as an address list: {e}"),
                })?;
                collect(&list, &mut out);
            }
        }
    }
    for a in &out {
        check(a)?;
    }
    Ok(out)
}

/// Splits an address list at the commas that separate its items: not those inside quotes, angle
/// brackets, comments or a group (`team: a@x, b@x;`).
fn top_level_items(text: &str) -> Vec<&str> {
    let (mut items, mut start) = (Vec::new(), 0);
    let (mut quoted, mut escaped, mut angle, mut paren, mut group) = (false, false, 0, 0, false);
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || paren > 0 => escaped = true,
            '"' if paren == 0 => quoted = !quoted,
            _ if quoted => {}
            '(' => paren += 1,
            ')' if paren > 0 => paren -= 1,
            _ if paren > 0 => {}
            '<' => angle += 1,
            '>' if angle > 0 => angle -= 1,
            ':' if angle == 0 => group = true,
            ';' if angle == 0 => group = false,
            ',' if angle == 0 && !group => {
                items.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(text[start..].trim());
    items.retain(|i| !i.is_empty());
    items
}

fn collect(list: &mailparse::MailAddrList, out: &mut Vec<String>) {
    for item in list.iter() {
        match item {
            mailparse::MailAddr::Single(s) => out.push(s.addr.clone()),
            mailparse::MailAddr::Group(g) => out.extend(g.addrs.iter().map(|s| s.addr.clone())),
        }
    }
}

/// A local user name as Unix allows it (`root`, `www-data`, `user.name`).
fn is_bare_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
}

/// Reads the envelope sender of `-f`/`-r` or `MAIL FROM`: `<>` or empty is the null sender (`""`),
/// used for bounces and auto-replies.
pub fn parse_sender(text: &str) -> Result<String, Error> {
    refuse_line_breaks(text)?;
    let t = text.trim();
    if t.is_empty() || t == "<>" {
        return Ok(String::new());
    }
    let inner = match (t.find('<'), t.rfind('>')) {
        (Some(a), Some(b)) if a < b => t[a + 1..b].trim(),
        _ => t,
    };
    if inner.is_empty() {
        return Ok(String::new());
    }
    check(inner)?;
    Ok(inner.to_string())
}

/// Refuses what no SMTP command may carry: a CR or LF would end the command early and let the
/// rest act as a command of its own (SMTP smuggling); other control characters and spaces are
/// no more valid.
pub fn check(addr: &str) -> Result<(), Error> {
    refuse_line_breaks(addr)?;
    let bad = |why: &str| Err(Error::BadAddress { address: addr.to_string(), why: why.to_string() });
    if addr.is_empty() {
        return bad("is empty");
    }
    if addr.chars().any(|c| c.is_control() || c == ' ') && !addr.starts_with('"') {
        return bad("contains a space or control character");
    }
    if addr.len() > 320 {
        return bad("is longer than an address can be (320 characters)");
    }
    if let Some((local, domain)) = addr.rsplit_once('@') {
        if local.is_empty() {
            return bad("has nothing before the '@'");
        }
        if domain.is_empty() {
            return bad("has nothing after the '@'");
        }
    }
    Ok(())
}

fn refuse_line_breaks(text: &str) -> Result<(), Error> {
    if text.contains(['\r', '\n']) {
        return Err(Error::BadAddress {
            address: text.to_string(),
            why: "contains a line break (CR or LF); an envelope address must be on one line".into(),
        });
    }
    Ok(())
}

/// A bare local name (no '@'), as cron and daemons address `root`.
pub fn is_local(addr: &str) -> bool {
    !addr.contains('@')
}

/// Sends a bare local recipient to "local mail goes to" (`local_recipient` in the settings);
/// refuses it when that is unset, since the server could not deliver `root`.
pub fn resolve_recipient(addr: String, local_recipient: Option<&str>) -> Result<String, Error> {
    if !is_local(&addr) {
        return Ok(addr);
    }
    match local_recipient.map(str::trim).filter(|l| !l.is_empty()) {
        Some(l) => Ok(l.to_string()),
        None => Err(Error::LocalRecipientUnset(addr)),
    }
}

/// Removes repeats, keeping the first of each, so mapping `root` and `cron` to the same address
/// sends one copy.
pub fn dedupe(list: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter().filter(|a| seen.insert(a.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_names_and_groups() {
        let got = parse_list("Ann <ann@example.com>, \"Doe, J\" <j@example.com>, team: x@example.com, y@example.com;, root", "To").unwrap();
        assert_eq!(got, ["ann@example.com", "j@example.com", "x@example.com", "y@example.com", "root"]);
        assert!(parse_list("undisclosed-recipients:;", "To").unwrap().is_empty());
    }

    #[test]
    fn line_breaks_are_refused() {
        assert!(matches!(parse_list("a@example.com\r\nRCPT TO:<b@example.com>", "-"), Err(Error::BadAddress { .. })));
        assert!(matches!(parse_sender("a@example.com\n"), Err(Error::BadAddress { .. })));
    }

    #[test]
    fn null_sender_forms() {
        assert_eq!(parse_sender("<>").unwrap(), "");
        assert_eq!(parse_sender("").unwrap(), "");
        assert_eq!(parse_sender("<a@example.com>").unwrap(), "a@example.com");
        assert_eq!(parse_sender("a@example.com").unwrap(), "a@example.com");
    }

    #[test]
    fn local_names_follow_the_setting() {
        assert_eq!(resolve_recipient("root".into(), Some("admin@example.com")).unwrap(), "admin@example.com");
        assert!(matches!(resolve_recipient("root".into(), None), Err(Error::LocalRecipientUnset(_))));
        assert_eq!(resolve_recipient("a@example.com".into(), None).unwrap(), "a@example.com");
    }
}
