//! Graph's timestamp form: RFC 3339 in UTC with a `Z`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    // Formatting a UTC timestamp within year 0..9999 cannot fail.
    at.format(&Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

pub fn parse_rfc3339(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).ok()
}
