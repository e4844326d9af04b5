//! Business hours: weekly opening spans, dated closures and yearly holidays in a time zone.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// A business-hours calendar; built by the compiler, consulted by branch nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub(crate) time_zone: Tz,
    /// Opening spans per weekday (Monday first) in minutes since local midnight, end exclusive.
    pub(crate) weekly: [Vec<(u32, u32)>; 7],
    pub(crate) closed: Vec<NaiveDate>,
    /// (month, day) closed every year.
    pub(crate) yearly: Vec<(u32, u32)>,
}

impl Calendar {
    /// Whether the calendar is open at an instant, judged in its own time zone.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.time_zone);
        let date = local.date_naive();
        if self.closed.contains(&date) || self.yearly.contains(&(date.month(), date.day())) {
            return false;
        }
        let minute = local.hour() * 60 + local.minute();
        let day = local.weekday().num_days_from_monday() as usize;
        self.weekly.get(day).is_some_and(|spans| {
            spans
                .iter()
                .any(|&(from, to)| from <= minute && minute < to)
        })
    }
}

/// Parses a weekday name as written in flow files (`mon`..`sun`).
pub(crate) fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// Parses `HH:MM-HH:MM` into minutes since midnight; `24:00` may end a span.
pub(crate) fn parse_span(s: &str) -> Option<(u32, u32)> {
    let (from, to) = s.split_once('-')?;
    let (from, to) = (parse_clock(from.trim())?, parse_clock(to.trim())?);
    (from < to).then_some((from, to))
}

fn parse_clock(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 24 * 60).then_some(minutes)
}

/// Parses `MM-DD` of a yearly holiday.
pub(crate) fn parse_month_day(s: &str) -> Option<(u32, u32)> {
    let (m, d) = s.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is accepted.
    NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kyiv_weekdays_8_to_20() -> Calendar {
        let day = vec![(8 * 60, 20 * 60)];
        Calendar {
            time_zone: chrono_tz::Europe::Kyiv,
            weekly: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                vec![],
                vec![],
            ],
            closed: vec![NaiveDate::from_ymd_opt(2025, 3, 4).unwrap()],
            yearly: vec![(8, 24)],
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn opening_is_judged_in_the_calendar_time_zone() {
        let cal = kyiv_weekdays_8_to_20();
        // Monday 2025-03-03: Kyiv is UTC+2 in winter, so 06:30 UTC is 08:30 there.
        assert!(cal.is_open(utc("2025-03-03T06:30:00Z")));
        assert!(!cal.is_open(utc("2025-03-03T05:30:00Z")));
        assert!(!cal.is_open(utc("2025-03-03T18:00:00Z")));
        // Saturday.
        assert!(!cal.is_open(utc("2025-03-08T10:00:00Z")));
    }

    #[test]
    fn dated_closures_and_yearly_holidays_close_a_working_day() {
        let cal = kyiv_weekdays_8_to_20();
        assert!(!cal.is_open(utc("2025-03-04T10:00:00Z")));
        // 2026-08-24 is a Monday.
        assert!(!cal.is_open(utc("2026-08-24T10:00:00Z")));
        assert!(cal.is_open(utc("2026-08-25T10:00:00Z")));
    }

    #[test]
    fn spans_and_days_parse_strictly() {
        assert_eq!(parse_span("08:00-20:00"), Some((480, 1200)));
        assert_eq!(parse_span("00:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_span("20:00-08:00"), None);
        assert_eq!(parse_span("8-20"), None);
        assert_eq!(parse_month_day("02-29"), Some((2, 29)));
        assert_eq!(parse_month_day("13-01"), None);
    }
}
