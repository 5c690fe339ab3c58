//! The cloud path against a real AWS API server (`moto_server`): S3 buckets with notifications
//! to SQS, SNS alerts read back through an SQS subscription, Scheduler, Secrets Manager.
//! The stages run through the same handlers the Lambda binaries call, fed the S3 event JSON
//! that S3 itself produced.

use std::time::Duration;

use aws_sdk_sqs::Client as Sqs;
use etl_adapters::secrets::DatabaseUrl;
use etl_adapters::store::ObjectStore;
use etl_cli::schedule::{self, ScheduleError};
use etl_contract::config::{Config, DatabaseLocator, StoreLocation};
use etl_contract::layout::RunId;
use etl_lambda::event::S3Event;
use etl_tests::alerts::{AlertTopic, queue, receive};
use etl_tests::lambdas::{Cloud, PREFIX, lambda_log_env, manifest_event, manifests};
use etl_tests::tls::pki;
use serde_json::Value;

use crate::reconcile::assert_warehouse_reconciles;

/// Sends `bucket`'s object-created notifications under `<PREFIX>/manifests/` to a new queue,
/// as Terraform configures them for the Lambdas.
async fn notify_manifests(cloud: &Cloud, sqs: &Sqs, bucket: &str) -> String {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let (url, arn) = queue(sqs, &format!("{bucket}-manifests")).await;
    let filter = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(
                    FilterRule::builder()
                        .name(FilterRuleName::Prefix)
                        .value(format!(
                            "{PREFIX}/{}",
                            etl_contract::layout::MANIFESTS_PREFIX
                        ))
                        .build(),
                )
                .build(),
        )
        .build();
    cloud
        .landing
        .client()
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn(arn)
                        .events(Event::S3ObjectCreated)
                        .filter(filter)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    url
}

/// The runs announced by a batch of S3 notification message bodies.
fn announced(bodies: &[String]) -> Vec<RunId> {
    let mut runs: Vec<RunId> = bodies
        .iter()
        .flat_map(|b| {
            serde_json::from_str::<S3Event>(b)
                .unwrap_or_else(|e| panic!("not an S3 event ({e}): {b}"))
                .manifest_runs(PREFIX)
        })
        .collect();
    runs.sort();
    runs.dedup();
    runs
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_notifications_drive_transform_and_load_to_a_reconciled_warehouse() {
    let cloud = Cloud::new("cloud_e2e").await;
    let sqs = Sqs::new(&cloud.sdk);
    let landing_queue = notify_manifests(&cloud, &sqs, "landing").await;
    let processed_queue = notify_manifests(&cloud, &sqs, "processed").await;
    let config = cloud.config(None);
    assert!(matches!(config.landing, Some(StoreLocation::S3 { .. })));

    let extract = etl_lambda::extract::Handler::new(config.clone(), &cloud.sdk)
        .await
        .unwrap();
    let outcome = extract
        .handle(Value::Null, None)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let runs: Vec<RunId> = manifests(&cloud.landing).await;
    assert_eq!(outcome["runs"].as_array().unwrap().len(), runs.len());

    // The real notifications S3 sent for the manifests (and nothing for the data parts).
    let bodies = receive(&sqs, &landing_queue, |b| announced(b).len() >= runs.len()).await;
    assert_eq!(announced(&bodies), runs);
    let transform = etl_lambda::transform::Handler::new(&config, &cloud.sdk)
        .await
        .unwrap();
    for body in &bodies {
        let event: S3Event = serde_json::from_str(body).unwrap();
        transform
            .handle(event)
            .await
            .unwrap_or_else(|f| panic!("{f}"));
    }

    let bodies = receive(&sqs, &processed_queue, |b| announced(b).len() >= runs.len()).await;
    assert_eq!(announced(&bodies), runs);
    let load = etl_lambda::load::Handler::new(config.clone(), &cloud.sdk)
        .await
        .unwrap();
    for body in &bodies {
        let event: S3Event = serde_json::from_str(body).unwrap();
        load.handle(event).await.unwrap_or_else(|f| panic!("{f}"));
    }
    assert_warehouse_reconciles(
        &cloud.source.connect().await,
        &cloud.warehouse.connect().await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_failing_stage_publishes_exactly_one_alert() {
    let cloud = Cloud::new("cloud_alerts").await;
    let topic = AlertTopic::create(&cloud.sdk, "etl-alerts").await;
    let good = cloud.config(Some(topic.arn.clone()));
    lambda_log_env();

    // Extract: the source database does not exist (retryable: it may be created).
    let missing_db = Config {
        source: Some(DatabaseLocator::Url(
            cloud
                .source
                .url
                .replace(&cloud.source.name, "etl_no_such_database"),
        )),
        ..good.clone()
    };
    let extract = etl_lambda::extract::Handler::new(missing_db, &cloud.sdk)
        .await
        .unwrap();
    let failure = extract.handle(Value::Null, None).await.unwrap_err();
    assert_eq!(failure.error_type(), "Retryable", "{failure}");

    // Transform: an event for a manifest that is not there (permanent; quarantined). The
    // redelivery Lambda would make fails again but does not alert again.
    let transform = etl_lambda::transform::Handler::new(&good, &cloud.sdk)
        .await
        .unwrap();
    let ghost = "20200101T000000.000000Z-0000dead";
    for _ in 0..2 {
        let failure = transform
            .handle(manifest_event("landing", ghost))
            .await
            .unwrap_err();
        assert_eq!(failure.error_type(), "Permanent", "{failure}");
    }

    // Load: a processed manifest that is not JSON (permanent; quarantined).
    let run = "20261125T081500.123456Z-0a1b2c3d";
    cloud
        .processed
        .put(
            &format!("manifests/{run}.json"),
            bytes::Bytes::from_static(b"{not json"),
        )
        .await
        .unwrap();
    let load = etl_lambda::load::Handler::new(good.clone(), &cloud.sdk)
        .await
        .unwrap();
    let failure = load
        .handle(manifest_event("processed", run))
        .await
        .unwrap_err();
    assert_eq!(failure.error_type(), "Permanent", "{failure}");

    let mut got = topic.published().await;
    got.sort();
    assert_eq!(got.len(), 3, "one alert per failure: {got:#?}");
    let (extract_subject, extract_body) = &got[0];
    assert_eq!(
        extract_subject,
        "totesys-etl extract failed: no run (retryable)"
    );
    assert!(
        extract_body.contains("etl_no_such_database"),
        "{extract_body}"
    );
    assert!(
        extract_body.contains("/aws/lambda/etl-test"),
        "{extract_body}"
    );
    let (load_subject, load_body) = &got[1];
    assert_eq!(
        load_subject,
        &format!("totesys-etl load failed: run {run} (permanent)")
    );
    assert!(
        load_body.contains(&format!("quarantine/{run}/load/")),
        "{load_body}"
    );
    let (transform_subject, transform_body) = &got[2];
    assert_eq!(
        transform_subject,
        &format!("totesys-etl transform failed: run {ghost} (permanent)")
    );
    assert!(
        transform_body.contains("does not exist"),
        "{transform_body}"
    );
    for (subject, _) in &got {
        assert!(subject.len() < 100, "{subject}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_stamped_in_the_future_are_counted_and_alerted_once_per_table() {
    let cloud = Cloud::new("cloud_future").await;
    let topic = AlertTopic::create(&cloud.sdk, "etl-future").await;
    lambda_log_env();
    let source = cloud.source.connect().await;
    // A backfill that typed 2999 for "never", and one writer four minutes fast (short of what a
    // person should hear about: the lookback, 0 s here, plus five minutes).
    source
        .batch_execute(
            "UPDATE payment SET last_updated = '2999-01-01' \
               WHERE payment_id IN (SELECT payment_id FROM payment ORDER BY payment_id LIMIT 3); \
             UPDATE address SET last_updated = now() AT TIME ZONE 'UTC' + interval '4 minutes' \
               WHERE address_id = (SELECT min(address_id) FROM address);",
        )
        .await
        .unwrap();
    let extract =
        etl_lambda::extract::Handler::new(cloud.config(Some(topic.arn.clone())), &cloud.sdk)
            .await
            .unwrap();
    for _ in 0..2 {
        extract.handle(Value::Null, None).await.unwrap();
    }
    let future = etl_adapters::watermark::load(&cloud.landing)
        .await
        .unwrap()
        .watermark
        .unwrap()
        .future;
    assert_eq!(future["payment"].rows, 3, "{future:?}");
    assert!(future["payment"].alerted);
    assert!(
        future["payment"].ahead_secs > 900 * 365 * 86_400,
        "{future:?}"
    );
    assert_eq!(future["address"].rows, 1, "{future:?}");
    assert!(
        !future["address"].alerted,
        "four minutes fast is not alerted"
    );

    let got = topic.published().await;
    assert_eq!(got.len(), 1, "one alert over two invocations: {got:#?}");
    let (subject, body) = &got[0];
    assert_eq!(
        subject,
        "totesys-etl extract warning: 3 payment row(s) stamped in the future"
    );
    assert!(
        body.contains("source table payment") && body.contains("ahead"),
        "{body}"
    );
    assert!(!body.contains("2999"), "no row's value is quoted: {body}");

    // Corrected, they land and the count is gone.
    source
        .batch_execute(
            "UPDATE payment SET last_updated = now() AT TIME ZONE 'UTC' \
             WHERE last_updated > now() AT TIME ZONE 'UTC' + interval '1 hour'",
        )
        .await
        .unwrap();
    let runs = cloud.extract().await;
    assert_eq!(runs.len(), 1);
    let key = etl_contract::layout::manifest_key(&runs[0]);
    let manifest = etl_contract::manifest::Manifest::from_json(
        &key,
        &cloud.landing.get(&key).await.unwrap().unwrap().bytes,
    )
    .unwrap();
    assert_eq!(
        manifest.tables.keys().collect::<Vec<_>>(),
        ["payment"],
        "only the corrected rows"
    );
    assert_eq!(manifest.tables["payment"].rows, 3);
    let mark = etl_adapters::watermark::load(&cloud.landing)
        .await
        .unwrap()
        .watermark
        .unwrap();
    assert!(!mark.future.contains_key("payment"), "{:?}", mark.future);
    assert!(
        topic.published().await.is_empty(),
        "no alert for a fixed table"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn etl_run_alerts_like_the_lambdas_when_a_topic_is_set() {
    let cloud = Cloud::new("cloud_cli_alerts").await;
    let topic = AlertTopic::create(&cloud.sdk, "etl-cli-alerts").await;
    // The CLI with S3 stores and the topic, as an operator's `etl run` in the cloud.
    let local = etl_cli::local::Local::with_sdk(
        cloud.config(Some(topic.arn.clone())),
        Some(cloud.sdk.clone()),
    )
    .unwrap();
    let bad = etl_tests::craft::design_line(9_001).replace("\"design_name\":\"Steel\",", "");
    let (run, _) = etl_tests::craft::landing_run(&cloud.landing, "design", &[bad]).await;
    let cycle = local
        .cycle(etl_cli::local::Stages::Transform)
        .await
        .unwrap();
    assert_eq!(cycle.failures().len(), 1, "{:?}", cycle.failures());
    // Tried again through the same driver (as a redelivery would): refused, not alerted again.
    let again = local.transform(std::slice::from_ref(&run)).await;
    assert!(again[0].1.is_err(), "a quarantined run is refused");
    let got = topic.published().await;
    assert_eq!(
        got.len(),
        1,
        "one alert for a quarantined run, however often it is tried: {got:#?}"
    );
    assert_eq!(
        got[0].0,
        format!("totesys-etl transform failed: run {run} (permanent)")
    );
    assert!(
        got[0].1.contains(&format!("quarantine/{run}/transform/")),
        "{}",
        got[0].1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_pause_and_resume_round_trip() {
    let moto = etl_tests::Moto::start();
    let sdk = moto.sdk_config().await;
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    use aws_sdk_scheduler::types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target};
    scheduler
        .create_schedule()
        .name("etl-extract")
        .schedule_expression("rate(5 minutes)")
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            Target::builder()
                .arn("arn:aws:lambda:us-east-1:123456789012:function:extract")
                .role_arn("arn:aws:iam::123456789012:role/scheduler")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let status = schedule::status(&scheduler, "etl-extract", "default")
        .await
        .unwrap();
    assert_eq!(status.state, "ENABLED");
    let paused = schedule::set_state(&scheduler, "etl-extract", "default", false, None)
        .await
        .unwrap();
    assert_eq!(paused.state, "DISABLED");
    assert_eq!(
        schedule::status(&scheduler, "etl-extract", "default")
            .await
            .unwrap()
            .state,
        "DISABLED"
    );
    let resumed = schedule::set_state(
        &scheduler,
        "etl-extract",
        "default",
        true,
        Some("rate(15 minutes)"),
    )
    .await
    .unwrap();
    assert_eq!(resumed.state, "ENABLED");
    assert_eq!(resumed.expression, "rate(15 minutes)");
    assert_eq!(
        resumed.target,
        "arn:aws:lambda:us-east-1:123456789012:function:extract"
    );

    let missing = schedule::status(&scheduler, "no-such-schedule", "default")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ScheduleError::NotFound { .. }),
        "{missing}"
    );
    assert!(
        missing.to_string().contains("no-such-schedule"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn database_credentials_come_from_secrets_manager() {
    let cloud = Cloud::new("cloud_secret").await;
    let secrets = aws_sdk_secretsmanager::Client::new(&cloud.sdk);
    let url = url::Url::parse(&cloud.source.url).unwrap();
    let secret = |json: Value| {
        let secrets = secrets.clone();
        async move {
            secrets
                .create_secret()
                .name(format!("etl/{}", rand_suffix()))
                .secret_string(json.to_string())
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    let rds = |sslmode: &str, password: &str| {
        let mut secret = serde_json::json!({
            "engine": "postgres",
            "host": url.host_str().unwrap(),
            "port": url.port().unwrap_or(5432),
            "username": url.username(),
            // The test server trusts local connections; the password is carried, not checked.
            "password": password,
            "dbname": cloud.source.name,
            "sslmode": sslmode,
        });
        // The harness's own cluster has a certificate of the test CA.
        if etl_tests::server().is_throwaway() {
            secret["sslrootcert"] = pki().ca.display().to_string().into();
        }
        secret
    };

    // A good secret: extract reads the source through it, verifying the server's certificate
    // on the harness's cluster (a given server's certificate is not ours: encrypted only).
    let mode = if etl_tests::server().is_throwaway() {
        "verify-full"
    } else {
        "require"
    };
    let arn = secret(rds(mode, "s3cr3t-pa55")).await;
    let config = Config {
        source: Some(DatabaseLocator::SecretArn(arn)),
        ..cloud.config(None)
    };
    let handler = etl_lambda::extract::Handler::new(config, &cloud.sdk)
        .await
        .unwrap();
    let outcome = handler.handle(Value::Null, None).await.unwrap();
    assert_eq!(outcome["rows"].as_u64(), Some(cloud.source_rows().await));

    // A malformed one fails clearly, naming the secret and the field, never the password.
    let arn = secret(serde_json::json!({
        "host": "db", "username": "etl", "password": "hunter2-do-not-print", "port": "fifty"
    }))
    .await;
    let failure = DatabaseUrl::resolve(&DatabaseLocator::SecretArn(arn.clone()), &cloud.sdk)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        failure.contains(&arn) && failure.contains("\"port\""),
        "{failure}"
    );
    assert!(!failure.contains("hunter2"), "{failure}");

    // A secret that asks for TLS gets it from a server that offers it, and from one that does
    // not, a connect error that says so (the harness's throwaway cluster has TLS on; a server
    // given by ETL_TEST_DATABASE_URL may have it off).
    let arn = secret(rds("require", "hunter2-do-not-print")).await;
    let url = DatabaseUrl::resolve(&DatabaseLocator::SecretArn(arn), &cloud.sdk)
        .await
        .unwrap()
        .current()
        .await;
    let server_tls: String = cloud
        .source
        .connect()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get(0);
    let connected =
        etl_adapters::db::connect("source", &url, "etl-test", Duration::from_secs(5)).await;
    if server_tls == "on" {
        let client =
            connected.unwrap_or_else(|e| panic!("sslmode=require against a TLS server: {e}"));
        let encrypted: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            encrypted,
            "sslmode=require must give an encrypted connection"
        );
    } else {
        let error = connected.unwrap_err().to_string();
        assert!(error.to_lowercase().contains("tls"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }
}

fn rand_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_s3_store_keeps_the_port_contract() {
    use etl_adapters::store::{PutOutcome, S3Store};
    let moto = etl_tests::Moto::start();
    let sdk = moto.sdk_config().await;
    moto.create_bucket(&sdk, "contract").await;
    let store = S3Store::new(&sdk, "contract", "team a/");
    let bytes = |s: &'static str| bytes::Bytes::from_static(s.as_bytes());

    // Create-if-absent writes once.
    let key = "manifests/20261125T081500.123456Z-0a1b2c3d.json";
    let first = store.put_if_absent(key, bytes("one")).await.unwrap();
    assert!(matches!(first, PutOutcome::Written(_)));
    assert_eq!(
        store.put_if_absent(key, bytes("two")).await.unwrap(),
        PutOutcome::ConditionFailed
    );
    assert_eq!(&store.get(key).await.unwrap().unwrap().bytes[..], b"one");

    // Compare-and-swap succeeds only on the version read.
    let read = store.get(key).await.unwrap().unwrap();
    let swapped = store
        .put_if_match(key, bytes("three"), &read.version)
        .await
        .unwrap();
    assert!(matches!(swapped, PutOutcome::Written(_)));
    assert_eq!(
        store
            .put_if_match(key, bytes("four"), &read.version)
            .await
            .unwrap(),
        PutOutcome::ConditionFailed
    );
    assert_eq!(
        store
            .put_if_match("state/missing.json", bytes("x"), &read.version)
            .await
            .unwrap(),
        PutOutcome::ConditionFailed
    );

    // Large objects go up in parts and come back whole.
    let large: Vec<u8> = (0..(etl_adapters::store::s3::MULTIPART_THRESHOLD + 3_000_000))
        .map(|i| (i % 251) as u8)
        .collect();
    store
        .put(
            "data/fact_payment/x.parquet",
            bytes::Bytes::from(large.clone()),
        )
        .await
        .unwrap();
    let back = store
        .get("data/fact_payment/x.parquet")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.bytes.len(), large.len());
    assert!(back.bytes[..] == large[..]);

    // Listing is relative to the prefix and sorted; deleting is idempotent.
    assert_eq!(
        store.list("").await.unwrap(),
        vec!["data/fact_payment/x.parquet".to_owned(), key.to_owned()]
    );
    assert_eq!(
        store.list("manifests/").await.unwrap(),
        vec![key.to_owned()]
    );
    store.delete(key).await.unwrap();
    store.delete(key).await.unwrap();
    assert!(store.get(key).await.unwrap().is_none());
    assert!(store.get("../escape").await.is_err());
}

/// The lake function as the cloud runs it: an EventBridge "Object Created" event per processed
/// manifest (keys as EventBridge gives them, unencoded, under a prefix with a space) publishes
/// that run to the S3 lake committed through Glue; a redelivery changes nothing, an event for
/// any other object is ignored, and every table holds each run once.
#[tokio::test(flavor = "multi_thread")]
async fn the_lake_function_publishes_each_announced_run_once() {
    use etl_lambda::event::ObjectCreated;

    let cloud = Cloud::new("lake_fn").await;
    let runs = cloud.extract().await;
    cloud.transform(&runs).await;
    let processed = manifests(&cloud.processed).await;
    assert!(!processed.is_empty());
    cloud.moto.create_bucket(&cloud.sdk, "lake").await;
    cloud
        .moto
        .create_glue_database(&cloud.sdk, "etl_lake")
        .await;
    let config = Config {
        lake: Some(StoreLocation::S3 {
            bucket: "lake".into(),
            prefix: "lake".into(),
        }),
        lake_glue_database: Some("etl_lake".into()),
        ..cloud.config(None)
    };
    let handler = etl_lambda::lake::Handler::new(config, &cloud.sdk)
        .await
        .unwrap();
    let event = |run: &RunId| {
        ObjectCreated::new(
            "processed",
            &format!("{PREFIX}/{}", etl_contract::layout::manifest_key(run)),
        )
    };
    for run in &processed {
        let out = handler.handle(event(run)).await.unwrap();
        assert_eq!(out["published"], run.as_str(), "{out}");
        let tables = out["tables"].as_object().unwrap();
        assert!(
            !tables.is_empty() && tables.values().all(|t| t.get("appended").is_some()),
            "{out}"
        );
    }
    let again = handler.handle(event(&processed[0])).await.unwrap();
    assert!(
        again["tables"]
            .as_object()
            .unwrap()
            .values()
            .all(|t| t == "already there"),
        "a redelivery changes nothing: {again}"
    );
    let part = ObjectCreated::new("processed", &format!("{PREFIX}/parts/x.parquet"));
    assert_eq!(
        handler.handle(part).await.unwrap()["published"],
        Value::Null
    );

    let lake = lake::Lake::open(
        &StoreLocation::S3 {
            bucket: "lake".into(),
            prefix: "lake".into(),
        },
        Some("etl_lake"),
        Some(&cloud.sdk),
    )
    .unwrap();
    let held = lake.runs("fact_sales_order").await.unwrap();
    let expected: Vec<String> = processed.iter().map(ToString::to_string).collect();
    let mut sorted = held.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "each run once, through Glue");
}
