//! `dim_date`: a calendar row for every date an emitted fact points at.

use chrono::{Datelike, NaiveDate};
use polars::prelude::{DataFrame, df};

use crate::error::TransformError;

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Calendar rows for `days` (days since the epoch, sorted and unique): ISO weekday (Monday = 1),
/// unpadded English day and month names, quarter.
pub fn dim_date(days: &[i32]) -> Result<DataFrame, TransformError> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let dates: Vec<NaiveDate> = days
        .iter()
        .map(|d| epoch + chrono::Duration::days(i64::from(*d)))
        .collect();
    let weekday = |d: &NaiveDate| d.weekday().number_from_monday();
    df!(
        "date_id" => days.to_vec(),
        "year" => dates.iter().map(|d| d.year()).collect::<Vec<_>>(),
        "month" => dates.iter().map(|d| d.month() as i32).collect::<Vec<_>>(),
        "day" => dates.iter().map(|d| d.day() as i32).collect::<Vec<_>>(),
        "day_of_week" => dates.iter().map(|d| weekday(d) as i32).collect::<Vec<_>>(),
        "day_name" => dates.iter().map(|d| DAY_NAMES[weekday(d) as usize - 1]).collect::<Vec<_>>(),
        "month_name" => dates.iter().map(|d| MONTH_NAMES[d.month0() as usize]).collect::<Vec<_>>(),
        "quarter" => dates.iter().map(|d| (d.month0() / 3 + 1) as i32).collect::<Vec<_>>(),
    )
    .map_err(TransformError::frame("dim_date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields_are_iso_and_unpadded() {
        // 2024-02-29 (a Thursday) and 2026-11-23 (a Monday), as days since the epoch.
        let leap = (NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
            - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as i32;
        let monday = (NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
            - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
        .num_days() as i32;
        let df = dim_date(&[leap, monday]).unwrap();
        let text = format!("{df}");
        assert_eq!(df.height(), 2);
        let dow: Vec<Option<i32>> = df
            .column("day_of_week")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(dow, [Some(4), Some(1)]);
        let names: Vec<Option<&str>> = df
            .column("month_name")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(names, [Some("February"), Some("November")]);
        let quarters: Vec<Option<i32>> = df
            .column("quarter")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(quarters, [Some(1), Some(4)], "{text}");
    }
}
