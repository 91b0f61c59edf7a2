//! Times as people type and read them in the journal: `--since` / `--until` (and the window's
//! date fields) parsed from local dates and times or RFC 3339, and ms since the Unix epoch shown
//! in local time. One place, so the CLI and the window agree.

use super::Error;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

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
    if let Ok(t) = text.parse::<Timestamp>() {
        return Some(t.as_millisecond());
    }
    let tz = TimeZone::system();
    if let Ok(d) = Date::strptime("%Y-%m-%d", text) {
        let day = if end == End::Finish { d.tomorrow().ok()? } else { d };
        return start_of_day(&tz, day);
    }
    ["%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"].into_iter().find_map(|format| {
        // jiff's default for a wall-clock time the clocks skipped or repeated: the moment after
        // the gap, the earlier of the two in a fold.
        let t = DateTime::strptime(format, text).ok()?;
        Some(t.to_zoned(tz.clone()).ok()?.timestamp().as_millisecond())
    })
}

/// The first moment of local day `d` in ms (midnight, or later where DST skips midnight).
pub fn start_of_day(tz: &TimeZone, d: Date) -> Option<i64> {
    Some(d.to_zoned(tz.clone()).ok()?.start_of_day().ok()?.timestamp().as_millisecond())
}

fn to_local(ms: i64) -> jiff::Zoned {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(TimeZone::system())
}

/// "2024-05-01 08:00:03" in local time, for tables.
pub fn local(ms: i64) -> String {
    to_local(ms).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// RFC 3339 in local time with its offset ("2024-05-01T08:00:03.120+02:00"): unambiguous, and
/// spreadsheets read it.
pub fn rfc3339(ms: i64) -> String {
    to_local(ms).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accepted_forms() {
        let tz = TimeZone::system();
        let at_local =
            |text: &str| DateTime::strptime("%Y-%m-%d %H:%M", text).unwrap().to_zoned(tz.clone()).unwrap().timestamp().as_millisecond();
        let day = at_local("2024-05-01 00:00");
        assert_eq!(parse_since("since", "2024-05-01").unwrap(), day);
        assert_eq!(parse_until("until", "2024-05-01").unwrap(), at_local("2024-05-02 00:00"));
        let at = at_local("2024-05-01 08:30");
        assert_eq!(parse_since("since", "2024-05-01 08:30").unwrap(), at);
        assert_eq!(parse_until("until", "2024-05-01 08:30").unwrap(), at, "a time is the same at either end");
        assert_eq!(parse_since("since", "2024-05-01T08:00:00Z").unwrap(), 1_714_550_400_000);
        assert_eq!(parse_since("since", "2024-05-01T10:00:00+02:00").unwrap(), 1_714_550_400_000);
        assert_eq!(rfc3339(1_714_550_400_000).parse::<Timestamp>().unwrap().as_millisecond(), 1_714_550_400_000);
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
