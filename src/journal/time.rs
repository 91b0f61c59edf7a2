//! Times as people type and read them in the journal: `--since` / `--until` (and the window's
//! date fields) parsed from local dates and times or RFC 3339, and ms since the Unix epoch shown
//! in local time. One place, so the CLI and the window agree.

use super::Error;
use chrono::{DateTime, Duration, Local, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone};

/// The forms [`parse_since`] and [`parse_until`] take, for messages and help texts.
pub const ACCEPTED: &str = "YYYY-MM-DD, 'YYYY-MM-DD HH:MM' (local time) or RFC 3339 (2024-05-01T08:00:00Z)";

/// Which end of a range a time is: a date alone means the start of that day for `since`, and
/// the end of it (the next midnight, exclusive) for `until`, so `--since D --until D` is day D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Start,
    Finish,
}

/// `--since`: ms since the epoch of the time `text` names; a date alone is its first moment.
pub fn parse_since(field: &str, text: &str) -> Result<i64, Error> {
    parse(text, End::Start).ok_or_else(|| bad(field, text))
}

/// `--until` (exclusive): a date alone means up to the end of that day.
pub fn parse_until(field: &str, text: &str) -> Result<i64, Error> {
    parse(text, End::Finish).ok_or_else(|| bad(field, text))
}

fn bad(field: &str, text: &str) -> Error {
    Error::BadQuery { field: field.into(), message: format!("'{text}' is not a time; use {ACCEPTED}") }
}

fn parse(text: &str, end: End) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end == End::Finish { d.succ_opt()? } else { d };
        return local_ms(day.and_time(NaiveTime::MIN));
    }
    for format in ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return local_ms(t);
        }
    }
    None
}

/// A local wall-clock time as ms: the earlier one when the clocks went back, and the first
/// valid moment after it when they went forward (02:30 on a spring-forward night).
fn local_ms(t: NaiveDateTime) -> Option<i64> {
    match Local.from_local_datetime(&t) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp_millis()),
        LocalResult::None => {
            (1..=4).find_map(|h| Local.from_local_datetime(&(t + Duration::minutes(30 * h))).earliest()).map(|t| t.timestamp_millis())
        }
    }
}

fn to_local(ms: i64) -> DateTime<Local> {
    Local.timestamp_millis_opt(ms).earliest().unwrap_or_else(|| DateTime::<chrono::Utc>::UNIX_EPOCH.with_timezone(&Local))
}

/// "2024-05-01 08:00:03" in local time, for tables.
pub fn local(ms: i64) -> String {
    to_local(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// RFC 3339 in local time with its offset ("2024-05-01T08:00:03.120+02:00"): unambiguous, and
/// spreadsheets read it.
pub fn rfc3339(ms: i64) -> String {
    to_local(ms).to_rfc3339_opts(SecondsFormat::Millis, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accepted_forms() {
        let day = Local.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap().timestamp_millis();
        assert_eq!(parse_since("since", "2024-05-01").unwrap(), day);
        assert_eq!(parse_until("until", "2024-05-01").unwrap(), Local.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap().timestamp_millis());
        let at = Local.with_ymd_and_hms(2024, 5, 1, 8, 30, 0).unwrap().timestamp_millis();
        assert_eq!(parse_since("since", "2024-05-01 08:30").unwrap(), at);
        assert_eq!(parse_until("until", "2024-05-01 08:30").unwrap(), at, "a time is the same at either end");
        assert_eq!(parse_since("since", "2024-05-01T08:00:00Z").unwrap(), 1_714_550_400_000);
        assert_eq!(parse_since("since", "2024-05-01T10:00:00+02:00").unwrap(), 1_714_550_400_000);
        assert_eq!(rfc3339(1_714_550_400_000).parse::<DateTime<chrono::FixedOffset>>().unwrap().timestamp_millis(), 1_714_550_400_000);
        assert_eq!(local(at), "2024-05-01 08:30:00");
    }

    #[test]
    fn a_bad_time_names_the_flag_and_the_forms() {
        for text in ["yesterday", "2024-13-01", "01/05/2024", "2024-05-01 25:00", ""] {
            match parse_since("since", text) {
                Err(Error::BadQuery { field, message }) => {
                    assert_eq!(field, "since");
                    assert!(message.contains("YYYY-MM-DD") && message.contains("RFC 3339"), "{message}");
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
