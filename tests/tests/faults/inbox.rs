//! The inbox's crash points: before a file's transaction commits (the file loads exactly once
//! when the inbox runs again) and between a rejection's alert and its record (the next run
//! alerts it again: at least once, never silently).

use etl_tests::inbox::{CUSTOMERS, Inbox, customers_rejecting_files, thousand_rows_three_bad};

/// Runs the inbox with `point` set to panic; asserts it was reached. The panic unwinds through
/// the open transaction, as abrupt for it as a killed process.
async fn crash_at(inbox: &Inbox, point: &'static str) {
    use futures_util::FutureExt;
    fail::cfg(point, "panic").unwrap();
    let cycle = std::panic::AssertUnwindSafe(inbox.local.cycle(etl_cli::local::Stages::Inbox));
    let crashed = cycle.catch_unwind().await.is_err();
    fail::remove(point);
    assert!(crashed, "the fail point {point} was never reached");
}

#[tokio::test]
async fn inbox_before_commit() {
    let scenario = fail::FailScenario::setup();
    let inbox = Inbox::new("f_inbox_commit").await;
    inbox.drop_at("schema/customers.json", CUSTOMERS, 1);
    inbox.drop_at("append/customers/vendor.csv", thousand_rows_three_bad(), 2);
    crash_at(&inbox, "inbox::before_commit").await;
    assert_eq!(
        inbox
            .rows("SELECT count(*)::text FROM inbox.customers")
            .await,
        ["0"],
        "nothing of the crashed file is visible"
    );
    let again = inbox.run().await;
    assert_eq!(again.len(), 1, "the file is taken again");
    inbox.run().await;
    assert_eq!(
        inbox
            .rows("SELECT (SELECT count(*) FROM inbox.customers)::text, (SELECT count(*) FROM inbox.customers__errors)::text, (SELECT count(*) FROM inbox.etl_inbox_log WHERE action = 'append')::text")
            .await,
        ["997|3|1"],
        "loaded exactly once"
    );
    scenario.teardown();
    eprintln!("fault point inbox::before_commit: crashed, recovered, loaded exactly once");
}

#[tokio::test]
async fn inbox_after_alert() {
    let scenario = fail::FailScenario::setup();
    let inbox = Inbox::new("f_inbox_alert").await;
    inbox.drop_at("schema/customers.json", customers_rejecting_files(), 1);
    inbox.drop_at("append/customers/vendor.csv", thousand_rows_three_bad(), 2);
    crash_at(&inbox, "inbox::after_alert").await;
    let status = "SELECT status, alerted::text FROM inbox.etl_inbox_log WHERE action = 'append'";
    assert_eq!(inbox.rows(status).await, ["rejected|false"]);
    // The next run alerts the rejection whose alert was not recorded, then records it.
    let again = inbox.run().await;
    assert!(
        matches!(&again[..], [r] if matches!(r.result, Ok(inbox::Outcome::RejectedBefore { .. }))),
        "{again:?}"
    );
    assert_eq!(inbox.rows(status).await, ["rejected|true"]);
    assert!(inbox.run().await.is_empty(), "alerted once it is recorded");
    scenario.teardown();
    eprintln!("fault point inbox::after_alert: crashed, the next run alerted, then never again");
}
