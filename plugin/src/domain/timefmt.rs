//! Graph's timestamp form: RFC 3339 in UTC with milliseconds and a `Z`
//! (`2026-11-27T09:00:00.000Z`).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    // Fails only for years outside 0..=9999, which no stored timestamp has.
    at.format(&format)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

pub fn parse_rfc3339(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).ok()
}

/// `at` truncated to whole milliseconds: the precision the store keeps, so a value returned
/// before and after a round trip through the database is the same.
pub fn to_millis(at: OffsetDateTime) -> OffsetDateTime {
    let nanos = at.unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(nanos - nanos.rem_euclid(1_000_000)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_with_milliseconds_in_utc() {
        assert_eq!(
            rfc3339(datetime!(2026-11-27 09:00:01.5 +01:00)),
            "2026-11-27T08:00:01.500Z"
        );
        let t = parse_rfc3339("2026-11-27T09:00:00.123456Z").unwrap();
        assert_eq!(rfc3339(to_millis(t)), "2026-11-27T09:00:00.123Z");
        assert!(parse_rfc3339("27/11/2026").is_none());
    }
}
