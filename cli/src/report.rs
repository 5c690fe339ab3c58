//! `etl report --html FILE`: one page a person can open from a file or an email attachment,
//! with no network: the data is embedded as JSON and drawn by an inline script as SVG.
//!
//! Every number the page shows comes from the same sources `etl status` reads (the stores'
//! manifests, the load ledger) and from the warehouse's report views; decimals stay the strings
//! Postgres printed, so the page can be checked against the warehouse cell by cell. Each chart
//! mark carries `data-key` and `data-value`, and the script counts the charts it drew in
//! `<body data-drawn>`, which is what the browser test reads.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;

use crate::local::Local;
use crate::status::{self, StageLine, Status, Verdict};

/// One extract run, with what the later stages did with it.
#[derive(Debug, Clone, Serialize)]
pub struct RunPoint {
    pub run_id: String,
    /// When extract committed the run.
    pub at: String,
    /// How old the newest change of the run was when it committed: the freshness it achieved.
    pub lag_secs: f64,
    pub extract_rows: u64,
    pub transform_rows: Option<u64>,
    pub load_rows: Option<u64>,
}

/// `report_monthly_sales` summed over countries: one row per month and currency.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MonthlySales {
    pub month: String,
    pub currency: String,
    pub orders: i64,
    /// As Postgres printed the numeric: exact.
    pub sales_value: String,
}

/// One of the top rows of `report_monthly_sales` for the latest month.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CountrySales {
    pub currency: String,
    pub country: String,
    pub orders: i64,
    pub sales_value: String,
}

/// `report_payments_outstanding` per currency and transaction type.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outstanding {
    pub currency: String,
    pub transaction_type: String,
    pub payments: i64,
    pub amount: String,
    pub max_days_overdue: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub verdict: Verdict,
    pub status: Status,
    pub stages: Vec<StageLine>,
    pub runs: Vec<RunPoint>,
    pub monthly_sales: Vec<MonthlySales>,
    pub latest_month: Option<String>,
    pub sales_by_country: Vec<CountrySales>,
    pub outstanding: Vec<Outstanding>,
}

/// The SQL of the monthly sales chart: `report_monthly_sales` summed over countries.
pub const MONTHLY_SALES_SQL: &str = "\
    SELECT month::text, currency_code, sum(orders)::bigint, sum(sales_value)::text \
    FROM report_monthly_sales GROUP BY 1, 2 ORDER BY 1, 2";

/// The SQL of the latest month's table: its top rows by value, by currency and country. (The
/// text is aliased apart from the column so that the order is numeric.)
pub const COUNTRY_SALES_SQL: &str = "\
    SELECT currency_code, counterparty_country, orders, sales_value::text AS value \
    FROM report_monthly_sales WHERE month = $1::text::date \
    ORDER BY sales_value DESC, currency_code, counterparty_country LIMIT 20";

/// The SQL of the outstanding payments chart.
pub const OUTSTANDING_SQL: &str = "\
    SELECT currency_code, transaction_type, count(*), sum(payment_amount)::text, \
           coalesce(max(days_overdue), 0)::int \
    FROM report_payments_outstanding GROUP BY 1, 2 ORDER BY 1, 2";

/// Reads everything the page shows. The warehouse part is empty when no warehouse is
/// configured or nothing has been loaded yet (the views do not exist before the first load).
pub async fn gather(
    local: &Local,
    slo: std::time::Duration,
    last_runs: usize,
) -> anyhow::Result<Report> {
    let sources = status::Sources::read(local).await?;
    let status = status::status_of(local, &sources).await?;
    let verdict = status::verdict(&status, slo);

    let transformed: BTreeMap<String, u64> = sources
        .transformed
        .iter()
        .map(|m| (m.run_id.to_string(), m.total_rows()))
        .collect();
    let loaded: BTreeMap<&str, u64> = sources
        .ledger
        .iter()
        .flatten()
        .map(|l| (l.run_id.as_str(), l.rows))
        .collect();
    let extracted = &sources.extracted;
    let skip = extracted.len().saturating_sub(last_runs);
    let runs = extracted[skip..]
        .iter()
        .map(|m| {
            let id = m.run_id.to_string();
            RunPoint {
                at: etl_contract::time::format_micros(m.created_at),
                lag_secs: (m.created_at - m.window.to).num_milliseconds() as f64 / 1000.0,
                extract_rows: m.total_rows(),
                transform_rows: transformed.get(&id).copied(),
                load_rows: loaded.get(id.as_str()).copied(),
                run_id: id,
            }
        })
        .collect();

    let (mut monthly_sales, mut sales_by_country, mut outstanding) = (vec![], vec![], vec![]);
    let mut latest_month = None;
    if local.config.warehouse.is_some() {
        let wh = local.warehouse_read_only().await?;
        let has_views: bool = wh
            .query_one(
                "SELECT to_regclass('report_monthly_sales') IS NOT NULL \
                 AND to_regclass('report_payments_outstanding') IS NOT NULL",
                &[],
            )
            .await?
            .get(0);
        if has_views {
            monthly_sales = wh
                .query(MONTHLY_SALES_SQL, &[])
                .await
                .context("reading report_monthly_sales")?
                .iter()
                .map(|r| MonthlySales {
                    month: r.get(0),
                    currency: r.get(1),
                    orders: r.get(2),
                    sales_value: r.get(3),
                })
                .collect();
            latest_month = monthly_sales.last().map(|m| m.month.clone());
            if let Some(month) = &latest_month {
                sales_by_country = wh
                    .query(COUNTRY_SALES_SQL, &[month])
                    .await
                    .context("reading report_monthly_sales")?
                    .iter()
                    .map(|r| CountrySales {
                        currency: r.get(0),
                        country: r.get(1),
                        orders: r.get(2),
                        sales_value: r.get(3),
                    })
                    .collect();
            }
            outstanding = wh
                .query(OUTSTANDING_SQL, &[])
                .await
                .context("reading report_payments_outstanding")?
                .iter()
                .map(|r| Outstanding {
                    currency: r.get(0),
                    transaction_type: r.get(1),
                    payments: r.get(2),
                    amount: r.get(3),
                    max_days_overdue: r.get(4),
                })
                .collect();
        }
    }
    Ok(Report {
        generated_at: etl_contract::time::format_micros(Utc::now()),
        stages: status.stages(),
        verdict,
        status,
        runs,
        monthly_sales,
        latest_month,
        sales_by_country,
        outstanding,
    })
}

/// The page: the template with the report's JSON in place.
pub fn html(report: &Report) -> String {
    // `<` is escaped so no value can close the script element; JSON allows `\u003c`.
    let data = serde_json::to_string(report)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c");
    TEMPLATE.replace("/*DATA*/null", &data)
}

/// Writes the page to `path`, atomically (a reader never sees half a page).
pub fn write(report: &Report, path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into {}", dir.display()))?;
    std::io::Write::write_all(&mut file, html(report).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    // A page to open and share, not a secret: readable as any file the user writes (the
    // temporary file was made private).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("writing {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

const TEMPLATE: &str = include_str!("report.html");

#[cfg(test)]
mod tests {
    use super::*;

    fn report(country: &str) -> Report {
        let status = Status {
            watermark: None,
            lag_secs: None,
            last_checked: None,
            held_by: None,
            extract: vec![],
            transform: vec![],
            load: vec![],
            pending_transform: vec![],
            pending_load: vec![],
            lake: None,
            pending_lake: vec![],
            quarantined: vec![],
            future: BTreeMap::new(),
            first_load: None,
        };
        Report {
            generated_at: "2026-12-01T10:00:00.000000Z".into(),
            verdict: status::verdict(&status, std::time::Duration::from_secs(1800)),
            stages: status.stages(),
            status,
            runs: vec![],
            monthly_sales: vec![],
            latest_month: Some("2026-11-01".into()),
            sales_by_country: vec![CountrySales {
                currency: "GBP".into(),
                country: country.into(),
                orders: 1,
                sales_value: "1.00".into(),
            }],
            outstanding: vec![],
        }
    }

    #[test]
    fn no_value_can_close_the_script_or_reach_the_network() {
        let page = html(&report("</script><script>alert(1)</script>"));
        assert_eq!(page.matches("</script>").count(), 1, "only the page's own");
        assert!(page.contains("\\u003c/script>"));
        assert!(!page.contains("/*DATA*/"), "the data was put in place");
        // The SVG namespace is a name, not an address anything is fetched from.
        let page = page.replace("\"http://www.w3.org/2000/svg\"", "");
        for remote in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(remote), "the page must not load {remote}");
        }
    }
}
