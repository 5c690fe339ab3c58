//! `etl report --html`: the page rendered in a real headless Chromium, every chart drawn, and
//! every number it draws equal to the warehouse's.

use std::collections::BTreeMap;
use std::time::Duration;

use etl_cli::local::Stages;
use etl_devtools::simulate::{SimulateOptions, simulate};
use etl_tests::browser::{elements, rendered_dom};

use crate::support::{Pipeline, local_runner, spec};

/// Each chart's marks as `data-key -> data-value`, in the order drawn.
fn marks(dom: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut charts: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut chart = None;
    for e in elements(dom) {
        if e.tag == "svg"
            && let Some(name) = e.attr("data-chart")
        {
            assert_eq!(e.attr("data-error"), None, "chart {name} failed to draw");
            chart = Some(name.to_owned());
            charts.entry(name.to_owned()).or_default();
        }
        if e.attr("class") == Some("mark")
            && let (Some(chart), Some(key), Some(value)) =
                (&chart, e.attr("data-key"), e.attr("data-value"))
        {
            charts
                .get_mut(chart)
                .unwrap()
                .push((key.to_owned(), value.to_owned()));
        }
    }
    charts
}

async fn pairs(client: &tokio_postgres::Client, sql: &str) -> BTreeMap<String, String> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn the_html_report_draws_every_chart_with_the_warehouses_numbers() {
    let p = Pipeline::new("e_report", spec(300, 47)).await;
    // Several runs per cycle, so the run charts have more than one point.
    let local = local_runner(&p, 800).await;
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());
    simulate(
        &p.source.url,
        Duration::from_secs(5),
        &SimulateOptions {
            operations: Some(150),
            settle_rate: 0.3,
            order_edit_rate: 0.1,
            ..SimulateOptions::default()
        },
    )
    .await
    .unwrap();
    let cycle = local.cycle(Stages::All).await.unwrap();
    assert!(cycle.failures().is_empty(), "{:?}", cycle.failures());

    let report = etl_cli::report::gather(&local, Duration::from_secs(1800), 50)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("report.html");
    etl_cli::report::write(&report, &path).unwrap();
    let dom = rendered_dom(&path);

    let body = elements(&dom)
        .into_iter()
        .find(|e| e.tag == "body")
        .unwrap();
    assert_eq!(body.attr("data-drawn"), Some("4"), "every chart drew");
    assert!(
        dom.contains("HEALTHY: the watermark is"),
        "the verdict is shown"
    );
    let charts = marks(&dom);
    assert_eq!(
        charts.keys().collect::<Vec<_>>(),
        ["freshness", "outstanding", "rows", "sales"]
    );

    let wh = p.warehouse.connect().await;
    // Freshness: one point per extract run, in order.
    let runs: Vec<String> = etl_tests::lambdas::manifests(&p.landing)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(runs.len() >= 3, "{runs:?}");
    let points: Vec<&String> = charts["freshness"].iter().map(|(k, _)| k).collect();
    assert_eq!(points, runs.iter().collect::<Vec<_>>());

    // Rows per run and stage: the load bars are the ledger's counts.
    let ledger = pairs(
        &wh,
        "SELECT run_id || '|load', (SELECT sum(value::bigint) FROM jsonb_each_text(rows))::text \
         FROM etl_load_ledger",
    )
    .await;
    let drawn: BTreeMap<String, String> = charts["rows"]
        .iter()
        .filter(|(k, _)| k.ends_with("|load"))
        .cloned()
        .collect();
    assert_eq!(drawn, ledger);
    assert_eq!(charts["rows"].len(), 3 * runs.len(), "three stages per run");

    // The report views, to the cent.
    let sales = pairs(
        &wh,
        "SELECT month::text || '|' || currency_code, sum(sales_value)::text \
         FROM report_monthly_sales GROUP BY month, currency_code",
    )
    .await;
    assert!(!sales.is_empty());
    assert_eq!(
        charts["sales"].iter().cloned().collect::<BTreeMap<_, _>>(),
        sales
    );
    let outstanding = pairs(
        &wh,
        "SELECT currency_code || '|' || transaction_type, sum(payment_amount)::text \
         FROM report_payments_outstanding GROUP BY currency_code, transaction_type",
    )
    .await;
    assert!(!outstanding.is_empty());
    assert_eq!(
        charts["outstanding"]
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>(),
        outstanding
    );
}
