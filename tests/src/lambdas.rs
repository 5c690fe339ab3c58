//! The three Lambda binaries, each run as a real process under the Runtime API emulator and fed
//! the committed fixture events (`tests/fixtures/events/`), with S3 served by `moto_server` and
//! real Postgres databases. `lambda/tests/binaries.rs` calls each scenario here with the path
//! Cargo gives the binary (`CARGO_BIN_EXE_<name>`).

use std::time::Duration;

use etl_adapters::store::{ObjectStore, S3Store};
use etl_contract::catalog::SOURCE_TABLES;
use etl_contract::layout::{MANIFESTS_PREFIX, RunId, run_id_of_manifest_key};
use etl_devtools::runtime_api::{Outcome, RuntimeApi};
use etl_devtools::seed::generate::SeedSpec;
use etl_devtools::seed::{self, SeedOptions};
use serde_json::Value;

use crate::{Moto, TestDatabase};

/// The key prefix of both buckets: it has a space, which S3 events encode as `+`.
pub const PREFIX: &str = "team a";
/// The prefixes of [`transform_memory_binary`]'s other landings and processed runs.
const TEN_PREFIX: &str = "ten-runs";
const WHOLE_PREFIX: &str = "one-run";
const LANDING_BUCKET: &str = "landing";
const PROCESSED_BUCKET: &str = "processed";
/// How long a debug-built binary may take to answer one event of the small seeded history.
const EVENT_LIMIT: Duration = Duration::from_secs(120);

/// A committed fixture event with `{bucket}` and `{run_id}` filled in.
pub fn fixture(name: &str, bucket: &str, run_id: &str) -> String {
    let path = format!("{}/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {path}: {e}"))
        .replace("{bucket}", bucket)
        .replace("{run_id}", run_id)
}

/// The S3 notification of run `run_id`'s manifest in `bucket` (the committed fixture), as a
/// handler takes it.
pub fn manifest_event(bucket: &str, run_id: &str) -> etl_lambda::event::S3Event {
    serde_json::from_str(&fixture("s3-put-manifest.json", bucket, run_id))
        .unwrap_or_else(|e| panic!("the fixture event parses: {e}"))
}

/// Delivers the manifest notification of each of `runs` to the transform handler, then to the
/// load handler, as S3 would; panics on any failure.
pub async fn transform_and_load(
    transform: &etl_lambda::transform::Handler,
    load: &etl_lambda::load::Handler,
    runs: &[RunId],
) {
    for run in runs {
        transform
            .handle(manifest_event(LANDING_BUCKET, run.as_str()))
            .await
            .unwrap_or_else(|f| panic!("transform {run}: {f}"));
        load.handle(manifest_event(PROCESSED_BUCKET, run.as_str()))
            .await
            .unwrap_or_else(|f| panic!("load {run}: {f}"));
    }
}

/// A seeded source, an empty warehouse, and the two buckets in a running moto_server.
pub struct Cloud {
    pub moto: Moto,
    pub sdk: aws_config::SdkConfig,
    pub source: TestDatabase,
    pub warehouse: TestDatabase,
    pub landing: S3Store,
    pub processed: S3Store,
}

impl Cloud {
    pub async fn new(label: &str) -> Cloud {
        Cloud::seeded(label, 300).await
    }

    /// A cloud whose source holds `scale` sales orders (and what follows from them).
    pub async fn seeded(label: &str, scale: u64) -> Cloud {
        let moto = Moto::start();
        let sdk = moto.sdk_config().await;
        moto.create_bucket(&sdk, LANDING_BUCKET).await;
        moto.create_bucket(&sdk, PROCESSED_BUCKET).await;
        let source = TestDatabase::create(&format!("{label}_src")).await;
        let warehouse = TestDatabase::create(&format!("{label}_wh")).await;
        let spec = SeedSpec {
            scale,
            seed: 7,
            end: chrono::NaiveDate::from_ymd_opt(2025, 6, 2).unwrap_or_default(),
        };
        seed::seed(
            &mut source.connect().await,
            SeedOptions { spec, force: false },
            |_, _, _| {},
        )
        .await
        .unwrap_or_else(|e| panic!("seeding the source: {e}"));
        Cloud {
            landing: S3Store::new(&sdk, LANDING_BUCKET, PREFIX),
            processed: S3Store::new(&sdk, PROCESSED_BUCKET, PREFIX),
            moto,
            sdk,
            source,
            warehouse,
        }
    }

    /// The environment Terraform gives the functions, pointed at moto and the test databases.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        self.env_at(PREFIX, PREFIX)
    }

    /// [`Cloud::env`] with the landing and processed stores under other prefixes of the buckets.
    fn env_at(&self, landing: &str, processed: &str) -> Vec<(&'static str, String)> {
        let mut env = self.moto.env();
        env.extend([
            ("ETL_SOURCE_URL", self.source.url.clone()),
            ("ETL_WAREHOUSE_URL", self.warehouse.url.clone()),
            ("ETL_LANDING", format!("s3://{LANDING_BUCKET}/{landing}")),
            (
                "ETL_PROCESSED",
                format!("s3://{PROCESSED_BUCKET}/{processed}"),
            ),
        ]);
        env
    }

    /// The configuration the functions read from [`Cloud::env`], alerting to `alert_topic`.
    pub fn config(&self, alert_topic: Option<String>) -> etl_contract::Config {
        let env = self.env();
        let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        etl_contract::Config {
            alert_topic_arn: alert_topic,
            ..etl_contract::Config::from_lookup(lookup)
                .unwrap_or_else(|e| panic!("the test environment is a valid configuration: {e}"))
        }
    }

    /// Rows in all source tables.
    pub async fn source_rows(&self) -> u64 {
        let client = self.source.connect().await;
        let mut total = 0;
        for table in SOURCE_TABLES.iter() {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {}", table.name), &[])
                .await
                .unwrap_or_else(|e| panic!("counting {}: {e}", table.name))
                .get(0);
            total += n as u64;
        }
        total
    }

    /// Runs extract in-process (the library the binary wraps); returns the runs it landed.
    pub async fn extract(&self) -> Vec<RunId> {
        self.extract_into(&self.landing, &extract::ExtractOptions::new(&SOURCE_TABLES))
            .await
    }

    /// Runs extract in-process with `options` into `landing`; returns the runs it landed.
    pub async fn extract_into(
        &self,
        landing: &S3Store,
        options: &extract::ExtractOptions,
    ) -> Vec<RunId> {
        let outcome = crate::postgres::extract(&self.source.url, landing, options)
            .await
            .unwrap_or_else(|e| panic!("extract: {e}"));
        outcome.runs.into_iter().map(|r| r.run_id).collect()
    }

    /// Runs transform in-process for `runs`.
    pub async fn transform(&self, runs: &[RunId]) {
        for run in runs {
            transform::transform_run(run, &self.landing, &self.processed)
                .await
                .unwrap_or_else(|e| panic!("transform {run}: {e}"));
        }
    }
}

/// The log group and stream alerts point at, as Lambda sets them.
pub fn lambda_log_env() {
    // SAFETY: set before any thread of the calling test reads them; every test sets the same
    // values.
    unsafe {
        std::env::set_var("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/etl-test");
        std::env::set_var("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]test");
    }
}

/// Runs whose manifests are in `store`.
pub async fn manifests(store: &dyn ObjectStore) -> Vec<RunId> {
    store
        .list(MANIFESTS_PREFIX)
        .await
        .unwrap_or_else(|e| panic!("listing manifests: {e}"))
        .iter()
        .filter_map(|k| run_id_of_manifest_key(k))
        .collect()
}

fn response(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Response(value) => value,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// The extract binary: a scheduled event lands the whole seeded source; the next lands nothing.
pub async fn extract_binary(binary: &str) {
    let cloud = Cloud::new("lambda_x").await;
    let mut api = RuntimeApi::start().unwrap();
    api.push(&fixture("scheduled.json", "", ""));
    api.push(&fixture("scheduled.json", "", ""));
    let mut function = api.spawn(binary, "extract", &cloud.env()).unwrap();
    let ready = api.ready(&mut function, EVENT_LIMIT).unwrap();
    eprintln!("extract binary ready for its first event after {ready:?}");

    let first = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(
        first["rows"].as_u64(),
        Some(cloud.source_rows().await),
        "{first}"
    );
    let runs = first["runs"].as_array().map(Vec::len).unwrap_or(0);
    assert!(runs >= 1, "{first}");
    assert_eq!(manifests(&cloud.landing).await.len(), runs);

    let second = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(second["rows"].as_u64(), Some(0), "{second}");
    assert_eq!(second["stop"], "NothingNew", "{second}");
}

/// The transform binary: the S3 test event is ignored; a put event with an encoded key is
/// transformed; an event for a manifest that does not exist fails as permanent, once with the
/// work attempted and quarantined, then as already quarantined.
pub async fn transform_binary(binary: &str) {
    let cloud = Cloud::new("lambda_t").await;
    let runs = cloud.extract().await;
    let mut api = RuntimeApi::start().unwrap();
    let mut function = api.spawn(binary, "transform", &cloud.env()).unwrap();
    let ready = api.ready(&mut function, EVENT_LIMIT).unwrap();
    eprintln!("transform binary ready for its first event after {ready:?}");

    api.push(&fixture("s3-test-event.json", LANDING_BUCKET, ""));
    let ignored = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(ignored["transformed"], serde_json::json!([]), "{ignored}");

    for run in &runs {
        api.push(&fixture(
            "s3-put-manifest.json",
            LANDING_BUCKET,
            run.as_str(),
        ));
        let done = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
        assert_eq!(done["transformed"][0]["run_id"], run.as_str(), "{done}");
        assert!(done["transformed"][0]["rows"].as_u64() > Some(0), "{done}");
    }
    assert_eq!(manifests(&cloud.processed).await, runs);

    let missing = "20200101T000000.000000Z-00000000";
    for expected in ["does not exist", "quarantined by an earlier attempt"] {
        api.push(&fixture("s3-put-manifest.json", LANDING_BUCKET, missing));
        match api.outcome(&mut function, EVENT_LIMIT).unwrap() {
            Outcome::Error {
                error_type,
                message,
            } => {
                assert_eq!(error_type, "Permanent", "{message}");
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("expected a permanent error, got {other:?}"),
        }
    }
}

/// How much higher than after one run the transform binary's peak may be after ten: allocator
/// slack. A run of ten budgets peaks well above it (the scenario checks that too), so a
/// transform whose memory followed the input rather than the run would fail.
const MEMORY_SLACK_KB: u64 = 12 * 1024;

/// The transform binary's memory follows the run, not the input (docs/architecture.md §1): a
/// process that transforms ten runs of one budget each peaks no higher than one that transforms
/// only the first, give or take [`MEMORY_SLACK_KB`], while one run of all those rows peaks
/// higher than that.
pub async fn transform_memory_binary(binary: &str) {
    let cloud = Cloud::seeded("lambda_tm", 30_000).await;
    let budget = cloud.source_rows().await / 10 + 1;
    let runs = cloud
        .extract_into(
            &cloud.landing,
            &extract::ExtractOptions {
                row_budget: budget,
                ..extract::ExtractOptions::new(&SOURCE_TABLES)
            },
        )
        .await;
    assert!(runs.len() >= 10, "{} runs of {budget} rows", runs.len());
    // The same rows as one run, landed under a prefix of their own.
    let whole = S3Store::new(&cloud.sdk, LANDING_BUCKET, WHOLE_PREFIX);
    let one_run = cloud
        .extract_into(
            &whole,
            &extract::ExtractOptions {
                row_budget: u64::MAX / 2,
                ..extract::ExtractOptions::new(&SOURCE_TABLES)
            },
        )
        .await;
    assert_eq!(one_run.len(), 1);

    // Transforms `runs` landed under `landing` into `processed` in one process: its peak RSS.
    let peak = |runs: Vec<RunId>, landing: &'static str, processed: &'static str| {
        let env = cloud.env_at(landing, processed);
        // The fixture names keys under PREFIX, a space encoded as S3 encodes it (`+`).
        let s3_key_prefix = |prefix: &str| format!("{}/", prefix.replace(' ', "+"));
        let (fixture_prefix, key_prefix) = (s3_key_prefix(PREFIX), s3_key_prefix(landing));
        async move {
            let mut api = RuntimeApi::start().unwrap();
            let mut function = api.spawn(binary, "transform", &env).unwrap();
            api.ready(&mut function, EVENT_LIMIT).unwrap();
            for run in &runs {
                let event = fixture("s3-put-manifest.json", LANDING_BUCKET, run.as_str())
                    .replace(&fixture_prefix, &key_prefix);
                api.push(&event);
                let done = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
                assert_eq!(done["transformed"][0]["run_id"], run.as_str(), "{done}");
            }
            function
                .peak_rss_kb()
                .unwrap_or_else(|| panic!("no VmHWM for the transform process"))
        }
    };
    let first = peak(runs[..1].to_vec(), PREFIX, PREFIX).await;
    // A processed prefix of its own: this process does all the work, the first run included.
    let all = peak(runs.clone(), PREFIX, TEN_PREFIX).await;
    let whole_run = peak(one_run, WHOLE_PREFIX, WHOLE_PREFIX).await;
    eprintln!(
        "transform peak RSS: first run {first} KiB, all {} runs {all} KiB, one run of them all \
         {whole_run} KiB",
        runs.len()
    );
    assert!(
        all <= first + MEMORY_SLACK_KB,
        "ten runs peaked at {all} KiB against {first} KiB for one"
    );
    assert!(
        whole_run > first + MEMORY_SLACK_KB,
        "one run of ten budgets peaked at {whole_run} KiB against {first} KiB for one budget: \
         the slack is too loose to see memory follow the input"
    );
}

/// The load binary: migrations at cold start, each processed run loaded once, a redelivered
/// event reported as already loaded.
pub async fn load_binary(binary: &str) {
    let cloud = Cloud::new("lambda_l").await;
    let runs = cloud.extract().await;
    cloud.transform(&runs).await;
    let mut api = RuntimeApi::start().unwrap();
    let mut function = api.spawn(binary, "load", &cloud.env()).unwrap();
    let ready = api.ready(&mut function, EVENT_LIMIT).unwrap();
    eprintln!("load binary ready for its first event after {ready:?}");

    api.push(&fixture("s3-test-event.json", PROCESSED_BUCKET, ""));
    let ignored = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(ignored["loaded"], serde_json::json!([]), "{ignored}");

    for run in &runs {
        api.push(&fixture(
            "s3-put-manifest.json",
            PROCESSED_BUCKET,
            run.as_str(),
        ));
        let done = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
        assert_eq!(done["loaded"][0]["run_id"], run.as_str(), "{done}");
    }
    api.push(&fixture(
        "s3-put-manifest.json",
        PROCESSED_BUCKET,
        runs[0].as_str(),
    ));
    let again = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(again["already_loaded"][0], runs[0].as_str(), "{again}");

    let warehouse = cloud.warehouse.connect().await;
    let source = cloud.source.connect().await;
    let loaded: i64 = warehouse
        .query_one(
            "SELECT count(DISTINCT sales_order_id) FROM fact_sales_order",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    let orders: i64 = source
        .query_one("SELECT count(*) FROM sales_order", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(loaded, orders);
    let ledger: i64 = warehouse
        .query_one("SELECT count(*) FROM etl_load_ledger", &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .get(0);
    assert_eq!(ledger as usize, runs.len());
}

/// The lake binary on moto's S3 and Glue: the EventBridge event of each processed manifest
/// (the committed fixture) publishes its run to every table it has rows for; the redelivered
/// event finds every table holding the run.
pub async fn lake_binary(binary: &str) {
    let cloud = Cloud::new("lambda_lake").await;
    let runs = cloud.extract().await;
    cloud.transform(&runs).await;
    cloud.moto.create_bucket(&cloud.sdk, "lake").await;
    cloud
        .moto
        .create_glue_database(&cloud.sdk, "etl_lake")
        .await;
    let mut env = cloud.env();
    env.extend([
        ("ETL_LAKE", "s3://lake/lake".to_owned()),
        ("ETL_LAKE_GLUE_DATABASE", "etl_lake".to_owned()),
    ]);
    let mut api = RuntimeApi::start().unwrap();
    let mut function = api.spawn(binary, "lake", &env).unwrap();
    let ready = api.ready(&mut function, EVENT_LIMIT).unwrap();
    eprintln!("lake binary ready for its first event after {ready:?}");

    for run in &runs {
        api.push(&fixture(
            "eventbridge-object-created.json",
            PROCESSED_BUCKET,
            run.as_str(),
        ));
        let done = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
        assert_eq!(done["published"], run.as_str(), "{done}");
        assert!(
            done["tables"]["fact_sales_order"]["appended"].as_u64() > Some(0),
            "{done}"
        );
    }
    api.push(&fixture(
        "eventbridge-object-created.json",
        PROCESSED_BUCKET,
        runs[0].as_str(),
    ));
    let again = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(
        again["tables"]["fact_sales_order"], "already there",
        "{again}"
    );
}

/// The inbox binary on moto's S3: a declaration and a vendor file announced by one event are
/// applied and loaded (997 rows, 3 to the error table), the redelivered event changes nothing,
/// and the function URL's `GET /log` answers with both log rows as JSON.
pub async fn inbox_binary(binary: &str) {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    moto.create_bucket(&sdk, "inbox").await;
    let warehouse = TestDatabase::create("lambda_inbox").await;
    let store = S3Store::new(&sdk, "inbox", PREFIX);
    for (key, text) in [
        ("schema/customers.json", crate::inbox::CUSTOMERS.to_owned()),
        (
            "append/customers/vendor.csv",
            crate::inbox::thousand_rows_three_bad(),
        ),
    ] {
        store
            .put(key, bytes::Bytes::from(text))
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let mut env = moto.env();
    env.extend([
        ("ETL_WAREHOUSE_URL", warehouse.url.clone()),
        ("ETL_INBOX", format!("s3://inbox/{PREFIX}")),
    ]);
    let mut api = RuntimeApi::start().unwrap();
    let mut function = api.spawn(binary, "inbox", &env).unwrap();
    api.ready(&mut function, EVENT_LIMIT).unwrap();

    let event = serde_json::to_string(&etl_lambda::event::S3Event::object_created(
        "inbox",
        [
            format!("{PREFIX}/schema/customers.json"),
            format!("{PREFIX}/append/customers/vendor.csv"),
        ],
    ))
    .unwrap_or_default();
    api.push(&event);
    let done = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(done["files"][0]["status"], "applied", "{done}");
    assert_eq!(done["files"][1]["rows"], 997, "{done}");
    assert_eq!(done["files"][1]["rejected"], 3, "{done}");
    api.push(&event);
    let again = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(again["files"], serde_json::json!([]), "{again}");

    let request = |path: &str, query: &str| {
        serde_json::json!({
            "version": "2.0", "rawPath": path, "rawQueryString": query,
            "queryStringParameters": {"table": "customers", "since": "1h"},
            "requestContext": {"http": {"method": "GET", "path": path}},
        })
        .to_string()
    };
    api.push(&request("/log", "table=customers&since=1h"));
    let log = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(log["statusCode"], 200, "{log}");
    let body: Value = serde_json::from_str(log["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the body is JSON: {e}: {log}"));
    let entries = body["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{body}");
    assert_eq!(entries[0]["file"], "append/customers/vendor.csv", "{body}");
    assert_eq!(entries[0]["rows_loaded"], 997, "{body}");
    assert_eq!(entries[0]["rows_rejected"], 3, "{body}");
    api.push(&request("/elsewhere", ""));
    let missing = response(api.outcome(&mut function, EVENT_LIMIT).unwrap());
    assert_eq!(missing["statusCode"], 404, "{missing}");
}
