//! Schwab's timestamp formats.

use chrono::{DateTime, Utc};

/// Formats a time the way Schwab's order JSON does: `2025-09-02T15:31:07+0000`.
pub(crate) fn format(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

/// Parses an ISO-8601 query time such as `2024-03-29T00:00:00.000Z` or `2024-03-29T00:00:00+0000`.
pub(crate) fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Adds a std duration to a time, saturating on overflow.
pub(crate) fn after(at: DateTime<Utc>, delay: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|delay| at.checked_add_signed(delay))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_without_colon_in_offset() {
        let at = parse("2025-09-02T15:31:07Z").unwrap();
        assert_eq!(format(at), "2025-09-02T15:31:07+0000");
    }

    #[test]
    fn parses_both_iso_styles() {
        let zulu = parse("2024-03-29T00:00:00.000Z").unwrap();
        let offset = parse("2024-03-29T01:00:00+0100").unwrap();
        assert_eq!(zulu, offset);
        assert!(parse("yesterday").is_none());
    }
}
