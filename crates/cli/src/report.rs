//! `endpoint-gate report`: what shadow-mode services would have done,
//! beside what people did, disagreements first.

use std::fmt::Write as _;

use gate_app::PortError;
use gate_app::ports::{Registry, Shadows};
use gate_app::shadow::{ShadowReport, report};
use gate_core::{Actual, ServiceId, Timestamp};

/// The longest look back: a year.
const MAX_SINCE_SECS: i64 = 366 * 86_400;

/// `--since`: a number and a unit (`m`, `h`, `d`), like `7d`; from one
/// minute to a year.
pub fn parse_since(text: &str) -> Result<i64, String> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = digits.parse().map_err(|_| format!("{text:?}: give a number and a unit, like 7d"))?;
    let secs = match unit {
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3_600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(format!("{text:?}: the unit is m, h or d")),
    };
    if !(60..=MAX_SINCE_SECS).contains(&secs) {
        return Err(format!("{text:?}: give 1m to 366d"));
    }
    Ok(secs)
}

/// The report of the verdicts kept in the `since_secs` before `now`.
pub async fn shadow_report(
    shadows: &dyn Shadows,
    registry: &dyn Registry,
    services: &[ServiceId],
    since_secs: i64,
    now: Timestamp,
) -> Result<ShadowReport, PortError> {
    report(shadows, registry, services, Timestamp::from_unix(now.unix() - since_secs)).await
}

/// What happened, in words.
fn happened(actual: &Actual) -> String {
    match actual {
        Actual::Pending => "still pending".into(),
        Actual::Accepted { by } => format!("accepted by {}", by.as_deref().unwrap_or("unknown")),
        Actual::Rejected { why } if why.is_empty() => "rejected".into(),
        Actual::Rejected { why } => format!("rejected ({why})"),
        Actual::Gone { state } => format!("{state}, no decision recorded"),
    }
}

/// The report for people: one row per endpoint and its reasons, then the
/// summary line.
pub fn render(report: &ShadowReport) -> String {
    let mut s = String::new();
    if report.rows.is_empty() {
        s.push_str("No shadow verdicts in this period.\n");
    } else {
        let _ = writeln!(
            s,
            "{:<15} {:<22} {:<27} {:<13} {:<7} what happened",
            "agreement", "endpoint", "service", "owner", "would"
        );
        for r in &report.rows {
            let _ = writeln!(
                s,
                "{:<15} {:<22} {:<27} {:<13} {:<7} {}",
                r.agreement.as_str(),
                r.endpoint.to_string(),
                r.service.to_string(),
                r.owner.to_string(),
                r.would.as_str(),
                happened(&r.actual)
            );
            let _ = writeln!(s, "    why: {} (since {})", r.reasons, r.at);
        }
    }
    s.push_str(&report.summary());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_minutes_hours_and_days_within_a_year() {
        assert_eq!(parse_since("7d"), Ok(7 * 86_400));
        assert_eq!(parse_since("12h"), Ok(12 * 3_600));
        assert_eq!(parse_since("1m"), Ok(60));
        for bad in ["", "d", "7", "7w", "-7d", "0d", "367d", "7 d", "99999999999999999999d", "7d "] {
            assert!(parse_since(bad).is_err(), "{bad:?}");
        }
    }
}
