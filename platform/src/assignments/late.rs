//! Late submissions: how late a submission is, and what the assignment's late policy does with
//! it (accept it, take points per day late, or refuse it).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const DAY_SECONDS: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// Late work is accepted and marked late.
    #[default]
    Accept,
    /// Late work loses `late_penalty_percent` of the assignment's points per day or part of a
    /// day late.
    Penalty,
    /// Nothing is accepted after the due date.
    Reject,
}

text_enum!(LatePolicy {
    Accept => "accept",
    Penalty => "penalty",
    Reject => "reject",
});

/// Seconds past the due date (0 when on time or when there is none), capped to the column.
pub fn late_seconds(due: Option<DateTime<Utc>>, at: DateTime<Utc>) -> i32 {
    due.map_or(0, |due| {
        let late = (at - due).num_seconds().max(0);
        i32::try_from(late).unwrap_or(i32::MAX)
    })
}

/// Days late, every part of a day counting as a whole one.
pub fn days_late(late_seconds: i32) -> i64 {
    (i64::from(late_seconds) + DAY_SECONDS - 1) / DAY_SECONDS
}

/// The points a late submission loses: `percent_per_day` of `points` per day late, never more
/// than `points`, in hundredths.
pub fn penalty(percent_per_day: Option<f64>, late_seconds: i32, points: f64) -> f64 {
    let Some(percent) = percent_per_day else {
        return 0.0;
    };
    let lost = (days_late(late_seconds) as f64 * percent / 100.0 * points).min(points);
    (lost * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn lateness_counts_from_the_due_date_and_parts_of_days_are_days() {
        let due = Utc::now();
        assert_eq!(late_seconds(Some(due), due - Duration::hours(1)), 0);
        assert_eq!(late_seconds(Some(due), due), 0);
        assert_eq!(late_seconds(None, due + Duration::days(3)), 0);
        let late = late_seconds(Some(due), due + Duration::seconds(1));
        assert_eq!((late, days_late(late)), (1, 1));
        let late = late_seconds(Some(due), due + Duration::hours(24));
        assert_eq!(days_late(late), 1);
        let late = late_seconds(Some(due), due + Duration::hours(25));
        assert_eq!(days_late(late), 2);
        assert_eq!(days_late(0), 0);
    }

    #[test]
    fn the_penalty_is_per_day_and_never_more_than_the_points() {
        assert_eq!(penalty(None, 100_000, 50.0), 0.0);
        assert_eq!(penalty(Some(10.0), 0, 50.0), 0.0);
        assert_eq!(penalty(Some(10.0), 1, 50.0), 5.0);
        assert_eq!(penalty(Some(10.0), 86_401, 50.0), 10.0);
        assert_eq!(penalty(Some(33.33), 1, 10.0), 3.33);
        assert_eq!(penalty(Some(40.0), 3 * 86_400, 20.0), 20.0);
    }
}
