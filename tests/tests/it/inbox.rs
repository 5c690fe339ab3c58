//! The file-drop inbox through `etl run --stage inbox` (the local runner), against a real
//! warehouse: declarations, the three actions, bad rows under both policies, checks, schema
//! evolution, exactly-once per object version, arrival order, and the fix-in-place retry.

use std::sync::Arc;

use etl_contract::config::{DatabaseLocator, StoreLocation};
use etl_tests::inbox::{CUSTOMERS, Inbox, customers_rejecting_files, thousand_rows_three_bad};
use etl_tests::postgres::TestDatabase;

fn summary(results: &[inbox::FileResult]) -> Vec<String> {
    results
        .iter()
        .map(|r| match &r.result {
            Ok(inbox::Outcome::Loaded(l)) => {
                format!("{} loaded {} rejected {}", r.file, l.rows, l.rejected)
            }
            Ok(inbox::Outcome::Declared(_)) => format!("{} declared", r.file),
            Ok(inbox::Outcome::Waiting) => format!("{} waiting", r.file),
            Ok(inbox::Outcome::RejectedBefore { reason }) => {
                format!("{} rejected before: {reason}", r.file)
            }
            Err(e) => format!("{} error: {e}", r.file),
        })
        .collect()
}

/// A Parquet file of customers, with exact decimals and dates.
fn customers_parquet(rows: &[(i32, &str, i128, i32)]) -> Vec<u8> {
    use arrow_array::{
        ArrayRef, Date32Array, Decimal128Array, Int32Array, RecordBatch, StringArray,
    };
    let batch = RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))) as ArrayRef,
        ),
        (
            "balance",
            Arc::new(
                Decimal128Array::from_iter_values(rows.iter().map(|r| r.2))
                    .with_precision_and_scale(12, 2)
                    .unwrap(),
            ) as ArrayRef,
        ),
        (
            "joined",
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.3))) as ArrayRef,
        ),
    ])
    .unwrap();
    let mut bytes = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes
}

fn gzip(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn declare_append_upsert_truncate_give_exactly_the_expected_table_once() {
    let inbox = Inbox::new("inbox_actions").await;
    // A file arriving before its declaration waits for it.
    inbox.drop_at(
        "append/customers/day1.csv",
        "id,name,balance,joined\n1,Ada,10.50,2024-01-02\n2,\"Bob, Jr.\",0,\n3,Cy,,2024-02-29\n",
        1,
    );
    let first = inbox.run().await;
    assert_eq!(summary(&first), ["append/customers/day1.csv waiting"]);

    inbox.drop_at("schema/customers.json", CUSTOMERS, 2);
    let second = summary(&inbox.run().await);
    assert_eq!(
        second,
        [
            "schema/customers.json declared",
            "append/customers/day1.csv loaded 3 rejected 0"
        ]
    );
    assert_eq!(
        inbox.customers().await,
        [
            "1|Ada|10.50|2024-01-02",
            "2|Bob, Jr.|0.00|NULL",
            "3|Cy|NULL|2024-02-29"
        ]
    );

    // Upsert: the last row of a key within the file wins; numbers as JSON numbers stay exact.
    inbox.drop_at(
        "upsert/customers/changes.jsonl",
        "{\"id\": 2, \"name\": \"Bob\", \"balance\": 20.5}\n{\"id\": 4, \"name\": \"Di\", \"balance\": \"99999999.99\", \"joined\": \"2024-03-01\"}\n{\"id\": 2, \"name\": \"Bob II\", \"balance\": 1e1}\n",
        3,
    );
    // Parquet appends, with exact decimals and dates.
    inbox.drop_at(
        "append/customers/more.parquet",
        customers_parquet(&[(5, "Eve", 123, 19_723)]),
        4,
    );
    let third = summary(&inbox.run().await);
    assert_eq!(
        third,
        [
            "upsert/customers/changes.jsonl loaded 3 rejected 0",
            "append/customers/more.parquet loaded 1 rejected 0"
        ]
    );
    assert_eq!(
        inbox.customers().await,
        [
            "1|Ada|10.50|2024-01-02",
            "2|Bob II|10.00|NULL",
            "3|Cy|NULL|2024-02-29",
            "4|Di|99999999.99|2024-03-01",
            "5|Eve|1.23|2024-01-01"
        ]
    );

    // Truncate replaces the whole table with the file (gzip-compressed here).
    inbox.drop_at(
        "truncate/customers/full.csv.gz",
        gzip("id,name\n10,Fay\n11,Gus\n"),
        5,
    );
    assert_eq!(
        summary(&inbox.run().await),
        ["truncate/customers/full.csv.gz loaded 2 rejected 0"]
    );
    assert_eq!(
        inbox.customers().await,
        ["10|Fay|NULL|NULL", "11|Gus|NULL|NULL"]
    );

    // The same events again (every object is still there): nothing changes.
    let log = inbox
        .rows("SELECT count(*)::text FROM inbox.etl_inbox_log")
        .await;
    assert!(inbox.run().await.is_empty());
    assert_eq!(
        inbox.customers().await,
        ["10|Fay|NULL|NULL", "11|Gus|NULL|NULL"]
    );
    assert_eq!(
        inbox
            .rows("SELECT count(*)::text FROM inbox.etl_inbox_log")
            .await,
        log
    );
    assert_eq!(log, ["5"]);

    // Re-uploading a file is a new version of it: it applies again.
    inbox.drop_at(
        "truncate/customers/full.csv.gz",
        gzip("id,name\n12,Hal\n"),
        6,
    );
    assert_eq!(
        summary(&inbox.run().await),
        ["truncate/customers/full.csv.gz loaded 1 rejected 0"]
    );
    assert_eq!(inbox.customers().await, ["12|Hal|NULL|NULL"]);
}

#[tokio::test]
async fn three_bad_rows_of_a_thousand_go_to_the_error_table_and_a_fix_in_place_moves_them() {
    let inbox = Inbox::new("inbox_bad_rows").await;
    inbox.drop_at("schema/customers.json", CUSTOMERS, 1);
    inbox.drop_at("append/customers/vendor.csv", thousand_rows_three_bad(), 2);
    let results = summary(&inbox.run().await);
    assert_eq!(
        results[1],
        "append/customers/vendor.csv loaded 997 rejected 3"
    );
    assert_eq!(
        inbox
            .rows("SELECT count(*)::text FROM inbox.customers")
            .await,
        ["997"]
    );
    let errors = inbox
        .rows("SELECT line::text, column_name, reason, raw, action FROM inbox.customers__errors ORDER BY id")
        .await;
    assert_eq!(
        errors,
        [
            "11|balance|3 digits after the decimal point, at most 2 (the value is not rounded)|10,n10,12.345,2024-01-01|append",
            "501|joined|not a calendar date|500,n500,5.00,2024-13-01|append",
            "1001|id|not a whole number|x1000,n1000,5.00,2024-01-01|append",
        ]
    );
    let log = inbox
        .rows("SELECT status, rows_loaded::text, rows_rejected::text, checks::text FROM inbox.etl_inbox_log WHERE action = 'append'")
        .await;
    assert_eq!(
        log,
        [
            r#"loaded|997|3|[{"check": "balance min 0", "failing_rows": 0}, {"check": "id unique", "failing_rows": 0}, {"check": "min_rows 1", "failing_rows": 0}]"#
        ]
    );

    // Someone fixes two rows in place; retry moves those and keeps the third.
    let client = inbox.warehouse.connect().await;
    client
        .batch_execute(
            "UPDATE inbox.customers__errors SET record = jsonb_set(record, '{balance}', '\"12.34\"') WHERE line = 11;
             UPDATE inbox.customers__errors SET record = jsonb_set(record, '{joined}', '\"2024-12-01\"') WHERE line = 501;",
        )
        .await
        .unwrap();
    let mut warehouse = inbox.local.warehouse().await.unwrap();
    let retried = inbox::retry::retry(&mut warehouse, "customers")
        .await
        .unwrap();
    assert_eq!((retried.moved, retried.still_bad), (2, 1));
    assert_eq!(
        inbox.rows("SELECT id::text, balance::text, joined::text FROM inbox.customers WHERE id IN (10, 500) ORDER BY id").await,
        ["10|12.34|2024-01-01", "500|5.00|2024-12-01"]
    );
    assert_eq!(
        inbox
            .rows("SELECT line::text FROM inbox.customers__errors")
            .await,
        ["1001"]
    );
}

#[tokio::test]
async fn under_reject_file_one_bad_row_loads_nothing_and_is_alerted_once() {
    let inbox = Inbox::new("inbox_reject").await;
    inbox.drop_at("schema/customers.json", customers_rejecting_files(), 1);
    inbox.drop_at("append/customers/vendor.csv", thousand_rows_three_bad(), 2);
    let results = inbox.run().await;
    let rejected = results
        .iter()
        .find(|r| r.file == "append/customers/vendor.csv")
        .unwrap();
    let reason = rejected.result.as_ref().unwrap_err().to_string();
    assert!(
        reason.contains("line 11, column balance: 3 digits after the decimal point"),
        "{reason}"
    );
    assert!(!reason.contains("12.345"), "{reason}");
    assert_eq!(
        inbox
            .rows("SELECT count(*)::text FROM inbox.customers")
            .await,
        ["0"]
    );
    assert_eq!(
        inbox
            .rows("SELECT status, alerted::text FROM inbox.etl_inbox_log WHERE action = 'append'")
            .await,
        ["rejected|true"]
    );
    // Redelivered: the rejection stands, nothing is done or alerted again.
    assert!(inbox.run().await.is_empty());
}

#[tokio::test]
async fn a_failed_check_loads_nothing_and_schema_changes_apply_or_are_refused() {
    let inbox = Inbox::new("inbox_checks").await;
    inbox.drop_at("schema/customers.json", CUSTOMERS, 1);
    inbox.drop_at(
        "append/customers/negative.csv",
        "id,name,balance\n1,a,1.00\n2,b,-3.00\n3,c,-4.00\n",
        2,
    );
    let results = inbox.run().await;
    let reason = results[1].result.as_ref().unwrap_err().to_string();
    assert!(
        reason.contains("check balance min 0 failed for 2 row(s); nothing of the file was loaded"),
        "{reason}"
    );
    assert_eq!(
        inbox
            .rows("SELECT count(*)::text FROM inbox.customers")
            .await,
        ["0"]
    );
    // An empty file fails min_rows.
    inbox.drop_at("append/customers/empty.csv", "id,name\n", 3);
    let reason = inbox.run().await[0]
        .result
        .as_ref()
        .unwrap_err()
        .to_string();
    assert!(
        reason.contains("check min_rows 1 failed for 1 row(s)"),
        "{reason}"
    );

    // Additive: a new nullable column is added.
    let added = CUSTOMERS.replace(
        r#"{"name": "joined", "type": "date"}"#,
        r#"{"name": "joined", "type": "date"}, {"name": "email", "type": "text"}"#,
    );
    inbox.drop_at("schema/customers.json", &added, 4);
    assert_eq!(
        summary(&inbox.run().await),
        ["schema/customers.json declared"]
    );
    inbox.drop_at(
        "append/customers/with_email.csv",
        "id,email\n7,x@example.com\n",
        5,
    );
    assert_eq!(
        summary(&inbox.run().await),
        ["append/customers/with_email.csv loaded 1 rejected 0"]
    );
    // Breaking: dropping a column is refused, naming it; the table keeps it.
    let dropped = added.replace(r#"{"name": "joined", "type": "date"}, "#, "");
    inbox.drop_at("schema/customers.json", &dropped, 6);
    let results = inbox.run().await;
    let reason = results[0].result.as_ref().unwrap_err().to_string();
    assert!(reason.contains("drops column joined"), "{reason}");
    assert!(reason.contains("allow_breaking"), "{reason}");
    assert_eq!(
        inbox
            .rows("SELECT status FROM inbox.etl_inbox_log WHERE action = 'schema' ORDER BY id")
            .await,
        ["applied", "applied", "refused"]
    );
    assert_eq!(
        inbox
            .rows("SELECT id::text, email, joined::text FROM inbox.customers")
            .await,
        ["7|x@example.com|NULL"]
    );
    // A file with a column the declaration does not have is refused, naming the column.
    inbox.drop_at("append/customers/drift.csv", "id,colour\n8,red\n", 7);
    let reason = inbox.run().await[0]
        .result
        .as_ref()
        .unwrap_err()
        .to_string();
    assert!(reason.contains("column \"colour\""), "{reason}");
    assert!(!reason.contains("red"), "{reason}");
}

#[tokio::test]
async fn files_of_a_table_apply_in_arrival_order() {
    for (truncate_first, expected) in [
        (
            true,
            vec!["1|a|NULL|NULL", "2|b|NULL|NULL", "3|c|NULL|NULL"],
        ),
        (false, vec!["1|a|NULL|NULL", "2|b|NULL|NULL"]),
    ] {
        let inbox = Inbox::new("inbox_order").await;
        inbox.drop_at("schema/customers.json", CUSTOMERS, 1);
        let (t, a) = if truncate_first { (2, 3) } else { (3, 2) };
        // Named so that key order is the opposite of arrival order in the first case.
        inbox.drop_at("truncate/customers/z.csv", "id,name\n1,a\n2,b\n", t);
        inbox.drop_at("append/customers/a.csv", "id,name\n3,c\n", a);
        inbox.run().await;
        assert_eq!(
            inbox.customers().await,
            expected,
            "truncate first: {truncate_first}"
        );
    }
}

/// Through the inbox Lambda's handler on moto's S3 and SNS: a rejected file publishes one alert
/// however often its event is delivered; a loaded one publishes one notice to the notify topic.
#[tokio::test]
async fn on_s3_a_rejected_file_alerts_once_and_a_loaded_one_notifies() {
    use etl_lambda::event::S3Event;
    use etl_lambda::inbox::{Handler, InboxEvent};
    use etl_tests::alerts::AlertTopic;

    let moto = etl_tests::Moto::start();
    let sdk = moto.sdk_config().await;
    moto.create_bucket(&sdk, "inbox").await;
    let warehouse = TestDatabase::create("inbox_cloud").await;
    let alerts = AlertTopic::create(&sdk, "inbox-alerts").await;
    let notices = AlertTopic::create(&sdk, "inbox-notices").await;
    let store = etl_adapters::store::S3Store::new(&sdk, "inbox", "drops");
    use etl_adapters::ObjectStore;
    let put = |key: &'static str, text: String| {
        let store = store.clone();
        async move { store.put(key, bytes::Bytes::from(text)).await.unwrap() }
    };
    put("schema/customers.json", CUSTOMERS.to_owned()).await;
    put(
        "schema/strict.json",
        customers_rejecting_files().replace("\"customers\"", "\"strict\""),
    )
    .await;
    put("append/customers/vendor.csv", thousand_rows_three_bad()).await;
    put("append/strict/vendor.csv", thousand_rows_three_bad()).await;

    let config = etl_contract::Config {
        warehouse: Some(DatabaseLocator::Url(warehouse.url.clone())),
        inbox: Some(StoreLocation::S3 {
            bucket: "inbox".into(),
            prefix: "drops".into(),
        }),
        alert_topic_arn: Some(alerts.arn.clone()),
        notify_topic_arn: Some(notices.arn.clone()),
        ..etl_contract::Config::from_lookup(|_| None).unwrap()
    };
    let handler = Handler::new(config, &sdk).await.unwrap();
    let event = || {
        InboxEvent::S3(S3Event::object_created(
            "inbox",
            [
                "drops/append/customers/vendor.csv".to_owned(),
                "drops/append/strict/vendor.csv".to_owned(),
            ],
        ))
    };
    for delivery in 0..2 {
        let answer = handler.handle(event()).await;
        if delivery == 0 {
            let failure = answer.unwrap_err();
            assert_eq!(failure.error_type(), "Permanent", "{failure}");
        } else {
            // The rejection stands in the log: the redelivery has nothing to do.
            assert_eq!(answer.unwrap(), serde_json::json!({"files": []}));
        }
        let published = alerts.published().await;
        if delivery == 0 {
            assert_eq!(published.len(), 1, "{published:?}");
            assert!(
                published[0].0.contains("inbox failed"),
                "{}",
                published[0].0
            );
            assert!(
                published[0].1.contains("line 11, column balance"),
                "{}",
                published[0].1
            );
            assert!(!published[0].1.contains("12.345"), "{}", published[0].1);
        } else {
            assert!(
                published.is_empty(),
                "a redelivery alerted again: {published:?}"
            );
        }
    }
    let notified = notices.published().await;
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(
        notified[0].0,
        "totesys-etl inbox: customers append 997 rows (3 rejected)"
    );

    let client = warehouse.connect().await;
    for (table, expected) in [
        ("inbox.customers", 997i64),
        ("inbox.customers__errors", 3),
        ("inbox.strict", 0),
    ] {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, expected, "{table}");
    }
}

/// The actions and declarations through the inbox Lambda's handler on moto's S3, each file
/// announced by the event S3 would send: declare, append, upsert, truncate give exactly the
/// expected table; a failed check loads nothing; a redelivered event changes nothing; an
/// additive declaration is applied and a breaking one refused.
#[tokio::test]
async fn on_s3_the_actions_and_declarations_give_exactly_the_expected_table() {
    use etl_adapters::ObjectStore;
    use etl_lambda::event::S3Event;
    use etl_lambda::inbox::{Handler, InboxEvent};

    let moto = etl_tests::Moto::start();
    let sdk = moto.sdk_config().await;
    moto.create_bucket(&sdk, "inbox").await;
    let warehouse = TestDatabase::create("inbox_s3_actions").await;
    let store = etl_adapters::store::S3Store::new(&sdk, "inbox", "drops");
    let config = etl_contract::Config {
        warehouse: Some(DatabaseLocator::Url(warehouse.url.clone())),
        inbox: Some(StoreLocation::S3 {
            bucket: "inbox".into(),
            prefix: "drops".into(),
        }),
        ..etl_contract::Config::from_lookup(|_| None).unwrap()
    };
    let handler = Handler::new(config, &sdk).await.unwrap();
    let event =
        |key: &str| InboxEvent::S3(S3Event::object_created("inbox", [format!("drops/{key}")]));
    let deliver = |key: &'static str, bytes: Vec<u8>| {
        let (store, handler) = (&store, &handler);
        async move {
            store.put(key, bytes::Bytes::from(bytes)).await.unwrap();
            handler.handle(event(key)).await
        }
    };
    let statuses = |answer: serde_json::Value| -> Vec<String> {
        answer["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {}",
                    f["file"].as_str().unwrap(),
                    f["status"].as_str().unwrap(),
                    f["rows"],
                    f["rejected"]
                )
            })
            .collect()
    };
    let client = warehouse.connect().await;
    let customers = || async {
        client
            .query("SELECT id::text, coalesce(name, 'NULL'), coalesce(balance::text, 'NULL') FROM inbox.customers ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| format!("{}|{}|{}", r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2)))
            .collect::<Vec<_>>()
    };

    let declared = deliver("schema/customers.json", CUSTOMERS.into())
        .await
        .unwrap();
    assert_eq!(statuses(declared), ["schema/customers.json applied 0 0"]);
    let appended = deliver(
        "append/customers/day1.csv",
        b"id,name,balance\n1,Ada,10.50\n2,Bob,0\n3,Cy,\n".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(statuses(appended), ["append/customers/day1.csv loaded 3 0"]);
    let upserted = deliver(
        "upsert/customers/changes.jsonl",
        b"{\"id\": 2, \"name\": \"Bob\", \"balance\": 20.5}\n{\"id\": 4, \"name\": \"Di\"}\n{\"id\": 2, \"name\": \"Bob II\", \"balance\": \"1.10\"}\n".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(
        statuses(upserted),
        ["upsert/customers/changes.jsonl loaded 3 0"]
    );
    assert_eq!(
        customers().await,
        ["1|Ada|10.50", "2|Bob II|1.10", "3|Cy|NULL", "4|Di|NULL"]
    );
    let truncated = deliver(
        "truncate/customers/full.csv.gz",
        gzip("id,name\n10,Fay\n11,Gus\n"),
    )
    .await
    .unwrap();
    assert_eq!(
        statuses(truncated),
        ["truncate/customers/full.csv.gz loaded 2 0"]
    );
    assert_eq!(customers().await, ["10|Fay|NULL", "11|Gus|NULL"]);

    // A failed check loads nothing, names the check and the row count, and fails permanently.
    let failed = deliver(
        "append/customers/negative.csv",
        b"id,name,balance\n12,Hal,-1.00\n".to_vec(),
    )
    .await
    .unwrap_err();
    assert_eq!(failed.error_type(), "Permanent", "{failed}");
    assert!(
        failed
            .message
            .contains("check balance min 0 failed for 1 row(s)"),
        "{failed}"
    );
    assert_eq!(customers().await, ["10|Fay|NULL", "11|Gus|NULL"]);

    // A file whose name says no format is rejected, alerted like any other, not ignored.
    let unknown = deliver("append/customers/prices.xlsx", b"PK".to_vec())
        .await
        .unwrap_err();
    assert!(
        unknown.message.contains("does not say its format"),
        "{unknown}"
    );

    // Every event again, in reverse: nothing changes.
    for key in [
        "append/customers/prices.xlsx",
        "append/customers/negative.csv",
        "truncate/customers/full.csv.gz",
        "upsert/customers/changes.jsonl",
        "append/customers/day1.csv",
        "schema/customers.json",
    ] {
        let again = handler.handle(event(key)).await.unwrap();
        assert_eq!(again["files"], serde_json::json!([]), "{key}: {again}");
    }
    assert_eq!(customers().await, ["10|Fay|NULL", "11|Gus|NULL"]);

    // Additive: applied. Breaking: refused, naming the column, as a permanent failure.
    let added = CUSTOMERS.replace(
        r#"{"name": "joined", "type": "date"}"#,
        r#"{"name": "joined", "type": "date"}, {"name": "email", "type": "text"}"#,
    );
    let applied = deliver("schema/customers.json", added.clone().into_bytes())
        .await
        .unwrap();
    assert_eq!(statuses(applied), ["schema/customers.json applied 0 0"]);
    let dropped = added.replace(r#"{"name": "joined", "type": "date"}, "#, "");
    let refused = deliver("schema/customers.json", dropped.into_bytes())
        .await
        .unwrap_err();
    assert_eq!(refused.error_type(), "Permanent", "{refused}");
    assert!(refused.message.contains("drops column joined"), "{refused}");
    assert_eq!(
        client
            .query_one("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'inbox' AND table_name = 'customers'", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        5,
        "the refused declaration changed nothing"
    );
}
