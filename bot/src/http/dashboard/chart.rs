//! The dashboard's charts, rendered on the server as SVG: each symbol's onchain net and hedged
//! position over time, and the fill-to-order latency of the recent hedges.

use chrono::{DateTime, Utc};
use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;

use crate::ledger::{HedgeLatency, PositionChange};
use crate::trade::Shares;

/// A position over time: `(minutes before now, shares)`, oldest first, a step after each change.
pub type Series = Vec<(f64, f64)>;

const NET: RGBColor = RGBColor(0x25, 0x63, 0xeb);
const HEDGED: RGBColor = RGBColor(0xea, 0x58, 0x0c);
const LATENCY: RGBColor = RGBColor(0x05, 0x96, 0x69);
const SIZE: (u32, u32) = (560, 230);

fn minutes_before(now: DateTime<Utc>, at: DateTime<Utc>) -> f64 {
    // Milliseconds fit an f64 exactly for any realistic span.
    #[allow(clippy::cast_precision_loss)]
    let millis = (at - now).num_milliseconds() as f64;
    millis / 60_000.0
}

/// One symbol's position over time, walking back from its `current` value through its latest
/// `changes` (newest first, as the ledger returns them): the value before a change is the value
/// after it minus its shares. Ends at `now` with `current`.
pub fn series(
    current: Shares,
    changes: &[PositionChange],
    symbol: &str,
    now: DateTime<Utc>,
) -> Series {
    let mut value = current;
    let mut points = vec![(0.0, value)];
    for change in changes.iter().filter(|c| c.symbol == symbol) {
        let x = minutes_before(now, change.at).min(0.0);
        points.push((x, value));
        value = value - change.shares;
        points.push((x, value));
    }
    if let Some(&(oldest, _)) = points.last() {
        // The value before the oldest change shown, a little earlier, so the first step is visible.
        points.push((oldest - 0.05, value));
    }
    points.reverse();
    points
        .into_iter()
        .map(|(x, shares)| (x, shares.value().to_f64().unwrap_or(0.0)))
        .collect()
}

/// The span of the values of `series`, widened so a flat line sits inside the frame.
fn bounds<'a>(series: impl Iterator<Item = &'a (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut y0, mut y1) = (0.0f64, f64::MAX, f64::MIN);
    for &(x, y) in series {
        x0 = x0.min(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if y0 > y1 {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.1).max(0.5);
    // At least six seconds wide, plus a margin before the oldest point.
    ((x0.min(-0.1) * 1.05, 0.0), (y0 - pad, y1 + pad))
}

/// How long ago `x` (minutes, negative) was: seconds on a short axis (tenths on one under 20 s, whose ticks
/// fall on half seconds), minutes on a long one.
fn ago_label(x: f64, span: f64) -> String {
    let minutes = x.abs();
    if span < 20.0 / 60.0 {
        format!("{:.1}s", minutes * 60.0)
    } else if span <= 2.0 {
        format!("{:.0}s", minutes * 60.0)
    } else if span < 10.0 {
        format!("{minutes:.1}m")
    } else {
        format!("{minutes:.0}m")
    }
}

/// Whole shares on a tall axis, tenths on a short one.
fn shares_label(y: f64, span: f64) -> String {
    if span >= 5.0 {
        format!("{y:.0}")
    } else {
        format!("{y:.1}")
    }
}

/// An SVG document drawn by `draw`, or `None` if plotting failed (the page then shows no chart).
fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Option<()>,
) -> Option<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).ok()?;
        draw(&root)?;
        root.present().ok()?;
    }
    Some(out)
}

/// A symbol's onchain net and hedged position over time.
pub fn positions(symbol: &str, net: &Series, hedged: &Series) -> Option<String> {
    let (x, y) = bounds(net.iter().chain(hedged));
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{symbol}: onchain net and hedged shares"),
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(x.0..x.1, y.0..y.1)
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("ago")
            .x_label_formatter(&|v| ago_label(*v, x.1 - x.0))
            .y_label_formatter(&|v| shares_label(*v, y.1 - y.0))
            .light_line_style(WHITE)
            .draw()
            .ok()?;
        for (points, color, label) in [(net, NET, "onchain net"), (hedged, HEDGED, "hedged")] {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .ok()?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .ok()
    })
}

/// Fill-to-order latency of the recent hedges, in milliseconds.
pub fn latency(latencies: &[HedgeLatency], now: DateTime<Utc>) -> Option<String> {
    #[allow(clippy::cast_precision_loss)] // milliseconds of a latency fit an f64 exactly
    let points: Vec<(f64, f64)> = latencies
        .iter()
        .rev()
        .map(|l| (minutes_before(now, l.at), l.millis as f64))
        .collect();
    let (x, (_, top)) = bounds(points.iter());
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "fill recorded → hedge order opened (ms)",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(x.0..x.1, 0.0..top.max(1.0))
            .ok()?;
        chart
            .configure_mesh()
            .x_desc("ago")
            .x_label_formatter(&|v| ago_label(*v, x.1 - x.0))
            .y_label_formatter(&|ms| format!("{ms:.0}"))
            .light_line_style(WHITE)
            .draw()
            .ok()?;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                LATENCY.stroke_width(1),
            ))
            .ok()?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 3, LATENCY.filled())))
            .ok()
            .map(|_| ())
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn change(symbol: &str, seconds_ago: i64, shares: &str, now: DateTime<Utc>) -> PositionChange {
        PositionChange {
            symbol: symbol.to_owned(),
            at: now - Duration::seconds(seconds_ago),
            shares: shares.parse().unwrap(),
        }
    }

    #[test]
    fn a_series_walks_back_from_the_current_value() {
        let now = Utc::now();
        // Newest first: +1.5 a minute ago, -0.5 two minutes ago (and another symbol's trade).
        let changes = [
            change("AAPL", 60, "1.5", now),
            change("TSLA", 90, "7", now),
            change("AAPL", 120, "-0.5", now),
        ];
        let points = series("3".parse().unwrap(), &changes, "AAPL", now);
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        assert_eq!(values, [2.0, 2.0, 1.5, 1.5, 3.0, 3.0]);
        assert_eq!(points.last().unwrap().0, 0.0);
        assert!((points[3].0 + 1.0).abs() < 1e-9, "{points:?}");
        assert!(points.windows(2).all(|w| w[0].0 <= w[1].0), "{points:?}");
    }

    #[test]
    fn time_ticks_have_distinct_labels() {
        // A 6.3 s axis (the sandbox's first seconds): plotters puts its ticks every half second.
        let span = 6.3 / 60.0;
        let labels: Vec<String> = (0..=12)
            .map(|tick| ago_label(-f64::from(tick) * 0.5 / 60.0, span))
            .collect();
        let distinct: std::collections::BTreeSet<&String> = labels.iter().collect();
        assert_eq!(distinct.len(), labels.len(), "{labels:?}");
        assert_eq!(ago_label(-1.0, 1.5), "60s");
        assert_eq!(ago_label(-3.0, 8.0), "3.0m");
    }

    #[test]
    fn charts_are_svg_with_their_lines() {
        let now = Utc::now();
        let net = series(
            "2".parse().unwrap(),
            &[change("AAPL", 30, "2", now)],
            "AAPL",
            now,
        );
        let svg = positions("AAPL", &net, &net).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("AAPL: onchain net"));
        for color in ["#2563EB", "#EA580C"] {
            let lines = svg
                .lines()
                .filter(|l| {
                    l.starts_with("<polyline") && l.contains(&format!("stroke=\"{color}\""))
                })
                .count();
            assert_eq!(lines, 2, "a line and its legend mark in {color}:\n{svg}");
        }
        let latency = latency(
            &[HedgeLatency {
                symbol: "AAPL".to_owned(),
                at: now,
                millis: 42,
            }],
            now,
        )
        .unwrap();
        assert!(latency.contains("<circle"));
    }
}
