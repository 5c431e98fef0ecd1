//! `GET /admin`: the overview, with sign-ins of the last 24 hours drawn
//! as an inline SVG bar chart (no script, no chart service: it renders
//! under the pages' CSP and without JavaScript).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use warden_core::service::Overview;

use super::{Chrome, admin, page};
use crate::PageState;
use crate::routes::{query, unavailable};

/// The chart's drawing area, in SVG user units.
const WIDTH: u32 = 720;
const HEIGHT: u32 = 160;
/// Room under the bars for the hour labels.
const LABELS: u32 = 18;

#[derive(Serialize)]
struct OverviewPage<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    users: u64,
    live_sessions: u64,
    locked_out: u64,
    mail_queue: u64,
    /// Seconds, or none when nothing waits.
    relay_lag: Option<i64>,
    succeeded: u64,
    failed: u64,
    chart: Chart,
}

#[derive(Serialize)]
struct Chart {
    width: u32,
    height: u32,
    /// The tallest bar's total, for the axis note.
    max: u64,
    bars: Vec<Bar>,
}

#[derive(Serialize)]
struct Bar {
    x: u32,
    width: u32,
    /// The successes' rectangle (bottom part).
    ok_y: u32,
    ok_height: u32,
    /// The failures' rectangle, stacked on top.
    fail_y: u32,
    fail_height: u32,
    /// "14:00", shown under every third bar.
    label: Option<String>,
    hour: String,
    succeeded: u64,
    failed: u64,
}

fn chart(overview: &Overview) -> Chart {
    let max = overview
        .hours
        .iter()
        .map(|h| h.succeeded + h.failed)
        .max()
        .unwrap_or(0);
    let plot = HEIGHT - LABELS;
    let count = u32::try_from(overview.hours.len()).unwrap_or(1).max(1);
    let slot = WIDTH / count;
    let scale = |n: u64| -> u32 {
        (n * u64::from(plot))
            .checked_div(max)
            .map_or(0, |h| u32::try_from(h).unwrap_or(plot))
    };
    let bars = overview
        .hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let i = u32::try_from(i).unwrap_or(0);
            let ok_height = scale(h.succeeded);
            let total_height = scale(h.succeeded + h.failed);
            let fail_height = total_height - ok_height.min(total_height);
            let hour = h.start.format("%H:00").to_string();
            Bar {
                x: i * slot + 2,
                width: slot.saturating_sub(4).max(1),
                ok_y: plot - ok_height,
                ok_height,
                fail_y: plot - total_height,
                fail_height,
                label: (i % 3 == 0).then(|| hour.clone()),
                hour,
                succeeded: h.succeeded,
                failed: h.failed,
            }
        })
        .collect();
    Chart {
        width: WIDTH,
        height: HEIGHT,
        max,
        bars,
    }
}

/// `GET /admin`.
pub async fn show(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let admin = match admin(&state, &headers, "/admin").await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let Ok(overview) = state.app.auth.overview().await else {
        return unavailable(&state);
    };
    let mut chrome = Chrome::new(&admin, "overview");
    chrome.notice = super::users::notice(&state, query(&uri).get("notice"));
    let context = OverviewPage {
        chrome,
        users: overview.users,
        live_sessions: overview.live_sessions,
        locked_out: overview.locked_out,
        mail_queue: overview.mail_queue,
        relay_lag: overview.relay_lag.map(|d| d.num_seconds()),
        succeeded: overview.succeeded(),
        failed: overview.failed(),
        chart: chart(&overview),
    };
    page(
        &state,
        &admin,
        "admin/overview.html",
        StatusCode::OK,
        context,
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};
    use warden_core::service::HourOfSignIns;

    use super::*;

    #[test]
    fn bars_scale_to_the_busiest_hour_and_stack_failures_on_successes() {
        let start = Utc.with_ymd_and_hms(2026, 12, 7, 0, 0, 0).unwrap();
        let hours = (0..24)
            .map(|i| HourOfSignIns {
                start: start + chrono::Duration::hours(i),
                succeeded: if i == 5 { 30 } else { 0 },
                failed: if i == 5 {
                    10
                } else if i == 6 {
                    4
                } else {
                    0
                },
            })
            .collect();
        let overview = Overview {
            users: 1,
            live_sessions: 1,
            locked_out: 0,
            mail_queue: 0,
            relay_lag: None,
            hours,
        };
        let chart = chart(&overview);
        assert_eq!(chart.max, 40);
        let plot = HEIGHT - LABELS;
        let busiest = &chart.bars[5];
        assert_eq!(busiest.ok_height + busiest.fail_height, plot);
        assert_eq!(busiest.fail_y, 0);
        assert_eq!(busiest.ok_y, plot - busiest.ok_height);
        assert_eq!(chart.bars[6].ok_height, 0);
        assert_eq!(chart.bars[6].fail_height, plot * 4 / 40);
        assert_eq!(chart.bars[0].ok_height + chart.bars[0].fail_height, 0);
        assert_eq!(chart.bars[0].label.as_deref(), Some("00:00"));
        assert_eq!(chart.bars[1].label, None);
        assert!(chart.bars.iter().all(|b| b.x + b.width <= WIDTH));
    }

    #[test]
    fn a_quiet_day_draws_no_bars() {
        let overview = Overview {
            users: 0,
            live_sessions: 0,
            locked_out: 0,
            mail_queue: 0,
            relay_lag: None,
            hours: Vec::new(),
        };
        let chart = chart(&overview);
        assert_eq!(chart.max, 0);
        assert!(chart.bars.is_empty());
    }
}
