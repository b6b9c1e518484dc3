//! The equity market clock: an open/closed switch and Schwab's market-hours endpoints.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::errors::GatewayError;
use crate::state::Sim;

/// Whether today is a trading day, switched by tests; `isOpen` on Schwab means "trading day".
#[derive(Debug, Clone, Copy)]
pub(crate) struct MarketClock {
    pub(crate) open: bool,
    /// When the switch last turned open; today's regular session always contains it.
    pub(crate) opened_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HoursQuery {
    markets: Option<String>,
    date: Option<String>,
}

/// `GET /marketdata/v1/markets?markets=equity[&date=YYYY-MM-DD]`.
pub(crate) async fn markets(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<HoursQuery>,
) -> Response {
    let Some(markets) = query.markets.filter(|markets| !markets.is_empty()) else {
        return missing_parameter("markets");
    };
    respond(&sim, markets.split(','), query.date.as_deref())
}

/// `GET /marketdata/v1/markets/{market_id}[?date=YYYY-MM-DD]`.
pub(crate) async fn market(
    State(sim): State<Arc<Sim>>,
    Path(market): Path<String>,
    Query(query): Query<HoursQuery>,
) -> Response {
    respond(
        &sim,
        std::iter::once(market.as_str()),
        query.date.as_deref(),
    )
}

fn respond<'a>(sim: &Sim, markets: impl Iterator<Item = &'a str>, date: Option<&str>) -> Response {
    let now = Utc::now();
    let clock = sim.market_clock();
    let date = match date.map(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d")) {
        None => now
            .with_timezone(&eastern_offset(now.date_naive()))
            .date_naive(),
        Some(Ok(date)) => date,
        Some(Err(_)) => return invalid_parameter("date", "date must be YYYY-MM-DD"),
    };
    let mut body = json!({});
    for market in markets {
        match market.trim() {
            "equity" => body["equity"] = json!({ "EQ": equity_hours(date, now, clock) }),
            "option" | "bond" | "future" | "forex" => body[market.trim()] = json!({}),
            _ => {
                return invalid_parameter(
                    "markets",
                    "markets must be equity, option, bond, future or forex",
                );
            }
        }
    }
    Json(body).into_response()
}

/// Schwab's equity product entry for `date`; today follows the switch, other days the weekday.
fn equity_hours(date: NaiveDate, now: DateTime<Utc>, clock: MarketClock) -> Value {
    let offset = eastern_offset(date);
    let today = now.with_timezone(&offset).date_naive() == date;
    let is_open = if today {
        clock.open
    } else {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    };
    let mut hours = json!({
        "date": date.format("%Y-%m-%d").to_string(),
        "marketType": "EQUITY",
        "product": "EQ",
        "productName": "equity",
        "isOpen": is_open,
    });
    if is_open {
        let at = |hour: u32, minute: u32| {
            let time = NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default();
            date.and_time(time)
                .and_local_timezone(offset)
                .single()
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or(now)
        };
        let (mut start, mut end) = (at(9, 30), at(16, 0));
        if today {
            // A switched-open market is open now, whatever the wall clock says.
            start = start.min(clock.opened_at);
            end = end.max(clock.opened_at + TimeDelta::minutes(390));
        }
        let session = |from: DateTime<Utc>, to: DateTime<Utc>| json!([{ "start": from.with_timezone(&offset).to_rfc3339(), "end": to.with_timezone(&offset).to_rfc3339() }]);
        hours["sessionHours"] = json!({
            "preMarket": session(at(7, 0).min(start), start),
            "regularMarket": session(start, end),
            "postMarket": session(end, at(20, 0).max(end)),
        });
    }
    hours
}

/// New York's UTC offset on `date`: EDT from the second Sunday of March to the first Sunday of November.
fn eastern_offset(date: NaiveDate) -> FixedOffset {
    let sunday = |month: u32, nth: u8| {
        NaiveDate::from_weekday_of_month_opt(date.year(), month, Weekday::Sun, nth)
    };
    let summer = matches!((sunday(3, 2), sunday(11, 1)), (Some(start), Some(end)) if date >= start && date < end);
    if summer { EDT } else { EST }
}

const EST: FixedOffset = hours_east(-5);
const EDT: FixedOffset = hours_east(-4);

const fn hours_east(hours: i32) -> FixedOffset {
    match FixedOffset::east_opt(hours * 3600) {
        Some(offset) => offset,
        None => panic!("UTC offset out of range"),
    }
}

fn missing_parameter(name: &str) -> Response {
    GatewayError::new(StatusCode::BAD_REQUEST)
        .detail("Missing parameter")
        .source(json!({ "parameter": name }))
        .into_response()
}

fn invalid_parameter(name: &str, detail: &str) -> Response {
    GatewayError::new(StatusCode::BAD_REQUEST)
        .detail(detail)
        .source(json!({ "parameter": name }))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn eastern_offset_follows_us_daylight_saving() {
        assert_eq!(
            eastern_offset(date("2025-03-08")).local_minus_utc(),
            -5 * 3600
        );
        assert_eq!(
            eastern_offset(date("2025-03-09")).local_minus_utc(),
            -4 * 3600
        );
        assert_eq!(
            eastern_offset(date("2025-11-01")).local_minus_utc(),
            -4 * 3600
        );
        assert_eq!(
            eastern_offset(date("2025-11-02")).local_minus_utc(),
            -5 * 3600
        );
    }

    #[test]
    fn other_days_follow_the_weekday() {
        let now = DateTime::parse_from_rfc3339("2025-09-02T15:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = MarketClock {
            open: false,
            opened_at: now,
        };
        let friday = equity_hours(date("2025-09-05"), now, clock);
        assert_eq!(friday["isOpen"], true);
        assert_eq!(
            friday["sessionHours"]["regularMarket"][0]["start"],
            "2025-09-05T09:30:00-04:00"
        );
        assert_eq!(
            friday["sessionHours"]["regularMarket"][0]["end"],
            "2025-09-05T16:00:00-04:00"
        );
        let saturday = equity_hours(date("2025-09-06"), now, clock);
        assert_eq!(saturday["isOpen"], false);
        assert!(saturday.get("sessionHours").is_none());
    }

    #[test]
    fn a_switched_open_today_contains_now() {
        let now = DateTime::parse_from_rfc3339("2025-09-02T03:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let today = equity_hours(
            date("2025-09-01"),
            now,
            MarketClock {
                open: true,
                opened_at: now,
            },
        );
        let regular = &today["sessionHours"]["regularMarket"][0];
        let start = DateTime::parse_from_rfc3339(regular["start"].as_str().unwrap()).unwrap();
        let end = DateTime::parse_from_rfc3339(regular["end"].as_str().unwrap()).unwrap();
        assert!(start <= now && now < end);
    }
}
