//! The local runner: the pipeline on one machine. Every landing run not yet transformed goes to
//! `transform::process`, every processed run not yet loaded to `load::process`: the drivers the
//! Lambdas call with the runs their S3 events announce (docs/architecture.md §1). `etl run`
//! overlaps the three stages as the cloud does: a run is transformed as soon as extract commits
//! it, and loaded as soon as transform has written it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use etl_adapters::alert::{self, AlertSink, LogAlerts};
use etl_adapters::report::report_runs;
use etl_adapters::secrets::DatabaseUrl;
use etl_adapters::store::{self, ObjectStore};
use etl_contract::Config;
use etl_contract::catalog::SOURCE_TABLES;
use etl_contract::config::{DatabaseLocator, INBOX, LAKE, LANDING, PROCESSED, StoreLocation};
use etl_contract::error::Classify;
use etl_contract::layout::RunId;
use etl_contract::manifest::Stage;
use extract::{ExtractOptions, ExtractOutcome};
use load::{LoadError, LoadOutcome};
use tokio::sync::mpsc;
use tokio_postgres::Client;
use transform::{TransformError, TransformOutcome};

use crate::progress::Progress;

/// Where local runs keep the stores when no location is configured.
pub const DEFAULT_LANDING: &str = ".etl/landing";
pub const DEFAULT_PROCESSED: &str = ".etl/processed";
pub const DEFAULT_INBOX: &str = ".etl/inbox";

/// Which stages a cycle runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stages {
    Extract,
    Transform,
    Load,
    /// The file-drop inbox alone.
    Inbox,
    /// Extract, transform and load, then the inbox when `ETL_INBOX` is set.
    All,
}

impl Stages {
    fn extract(self) -> bool {
        matches!(self, Stages::Extract | Stages::All)
    }
    fn transform(self) -> bool {
        matches!(self, Stages::Transform | Stages::All)
    }
    fn load(self) -> bool {
        matches!(self, Stages::Load | Stages::All)
    }
}

/// The configured stores and databases of a local pipeline.
///
/// Cloning is cheap (the stores and sinks are shared): `etl run` gives each stage a clone, so
/// that each runs on a task of its own.
#[derive(Clone)]
pub struct Local {
    pub config: Config,
    pub landing: Arc<dyn ObjectStore>,
    pub processed: Arc<dyn ObjectStore>,
    pub inbox: Arc<dyn ObjectStore>,
    sdk: Option<aws_config::SdkConfig>,
    /// SNS when `ETL_ALERT_TOPIC_ARN` is set: the CLI then alerts as the Lambdas do.
    topic: Option<Arc<dyn AlertSink>>,
    /// SNS when `ETL_NOTIFY_TOPIC_ARN` is set: loaded inbox files are published there.
    notices: Option<Arc<dyn AlertSink>>,
    /// The lake's Iceberg tables when `ETL_LAKE` is set.
    pub lake: Option<lake::Lake>,
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct Cycle {
    pub extract: Option<ExtractOutcome>,
    pub transformed: Vec<(RunId, Result<TransformOutcome, TransformError>)>,
    pub loaded: Vec<(RunId, Result<LoadOutcome, LoadError>)>,
    /// Runs published to the lake (`ETL_LAKE`).
    pub published: Vec<(RunId, Result<lake::Published, lake::LakeError>)>,
    pub inbox: Vec<inbox::FileResult>,
}

impl Cycle {
    /// Runs that failed in this cycle, as `stage run: error` lines.
    pub fn failures(&self) -> Vec<String> {
        let transform = self
            .transformed
            .iter()
            .filter_map(|(run, r)| r.as_ref().err().map(|e| format!("transform {run}: {e}")));
        let load = self
            .loaded
            .iter()
            .filter_map(|(run, r)| r.as_ref().err().map(|e| format!("load {run}: {e}")));
        let lake = self
            .published
            .iter()
            .filter_map(|(run, r)| r.as_ref().err().map(|e| format!("lake {run}: {e}")));
        let inbox = self.inbox.iter().filter_map(|f| match &f.result {
            Err(e) => Some(format!("inbox {}: {e}", f.file)),
            Ok(inbox::Outcome::RejectedBefore { reason }) => {
                Some(format!("inbox {}: rejected: {reason}", f.file))
            }
            Ok(_) => None,
        });
        transform.chain(load).chain(lake).chain(inbox).collect()
    }
}

/// The store at `location`, or a local directory by default.
pub fn open_store(
    location: Option<&StoreLocation>,
    default: &str,
    sdk: Option<&aws_config::SdkConfig>,
) -> anyhow::Result<Box<dyn ObjectStore>> {
    let default = StoreLocation::Local(default.into());
    Ok(store::open(location.unwrap_or(&default), sdk)?)
}

/// The URL of a database given by URL, for commands that create databases of their own
/// (demo, bench) and so need a server URL rather than a secret.
pub fn database_url<'a>(
    locator: &'a DatabaseLocator,
    url_var: &str,
    arn_var: &str,
) -> anyhow::Result<&'a str> {
    match locator {
        DatabaseLocator::Url(url) => Ok(url),
        DatabaseLocator::SecretArn(_) => {
            bail!("{arn_var} is set but this command needs {url_var}: set the URL instead")
        }
    }
}

impl Local {
    /// Opens the configured stores. The AWS configuration is loaded, from the environment, only
    /// when a location is in S3, a database is given by a Secrets Manager secret or an alert
    /// topic is set.
    pub async fn new(config: Config) -> anyhow::Result<Local> {
        let in_s3 = |l: &Option<StoreLocation>| matches!(l, Some(StoreLocation::S3 { .. }));
        let secret = |d: &Option<DatabaseLocator>| matches!(d, Some(DatabaseLocator::SecretArn(_)));
        let needs_aws = in_s3(&config.landing)
            || in_s3(&config.processed)
            || secret(&config.source)
            || secret(&config.warehouse)
            || in_s3(&config.inbox)
            || in_s3(&config.lake)
            || config.alert_topic_arn.is_some()
            || config.notify_topic_arn.is_some();
        let sdk = if needs_aws {
            Some(etl_adapters::aws::aws_config().await)
        } else {
            None
        };
        Local::with_sdk(config, sdk)
    }

    /// As [`Local::new`], with a given AWS configuration (tests point it at their server).
    pub fn with_sdk(config: Config, sdk: Option<aws_config::SdkConfig>) -> anyhow::Result<Local> {
        let landing = open_store(config.landing.as_ref(), DEFAULT_LANDING, sdk.as_ref())
            .with_context(|| format!("opening the landing store ({LANDING})"))?;
        let processed = open_store(config.processed.as_ref(), DEFAULT_PROCESSED, sdk.as_ref())
            .with_context(|| format!("opening the processed store ({PROCESSED})"))?;
        let inbox = open_store(config.inbox.as_ref(), DEFAULT_INBOX, sdk.as_ref())
            .with_context(|| format!("opening the inbox ({INBOX})"))?;
        let sink = |arn: &Option<String>| match (&sdk, arn) {
            (Some(sdk), Some(arn)) => Some(Arc::from(alert::sink(sdk, Some(arn)))),
            _ => None,
        };
        let topic = sink(&config.alert_topic_arn);
        let notices = sink(&config.notify_topic_arn);
        let lake = config
            .lake
            .as_ref()
            .map(|location| {
                lake::Lake::open(location, config.lake_glue_database.as_deref(), sdk.as_ref())
            })
            .transpose()
            .with_context(|| format!("opening the lake ({LAKE})"))?;
        Ok(Local {
            config,
            landing: Arc::from(landing),
            processed: Arc::from(processed),
            inbox: Arc::from(inbox),
            sdk,
            topic,
            notices,
            lake,
        })
    }

    /// The URL of a database: given, or read from its Secrets Manager secret.
    async fn url(&self, locator: &DatabaseLocator) -> anyhow::Result<DatabaseUrl> {
        match (&self.sdk, locator) {
            (_, DatabaseLocator::Url(url)) => Ok(DatabaseUrl::fixed(url.clone())),
            (Some(sdk), secret) => Ok(DatabaseUrl::resolve(secret, sdk).await?),
            (None, DatabaseLocator::SecretArn(arn)) => {
                bail!("no AWS configuration was loaded to read secret {arn}")
            }
        }
    }

    pub async fn source(&self) -> anyhow::Result<Client> {
        let url = self.url(self.config.source()?).await?;
        Ok(extract::source::connect(&url, self.config.connect_timeout).await?)
    }

    /// One extract invocation: the coordinator's connection and its readers' from one URL.
    async fn extract(&self, options: &ExtractOptions) -> anyhow::Result<ExtractOutcome> {
        let url = self.url(self.config.source()?).await?;
        let source = extract::Source {
            url: &url,
            timeout: self.config.connect_timeout,
        };
        let mut client = source.connect().await?;
        extract::extract(&mut client, &source, self.landing.as_ref(), options)
            .await
            .context("extract failed")
    }

    /// A warehouse connection with the migrations applied.
    pub async fn warehouse(&self) -> anyhow::Result<Client> {
        let url = self.url(self.config.warehouse()?).await?;
        Ok(load::connect(&url, self.config.connect_timeout).await?)
    }

    /// A warehouse connection for commands that only look (`etl status`): no migrations, and
    /// every transaction read-only, so looking can never change the warehouse.
    pub async fn warehouse_read_only(&self) -> anyhow::Result<Client> {
        let url = self.url(self.config.warehouse()?).await?;
        let client = url
            .connect("warehouse", "etl-status", self.config.connect_timeout)
            .await?;
        client
            .batch_execute("SET default_transaction_read_only = on")
            .await?;
        Ok(client)
    }

    pub fn extract_options(&self) -> ExtractOptions {
        ExtractOptions {
            row_budget: self.config.row_budget,
            lookback: self.config.lookback,
            readers: self.config.source_readers,
            ..ExtractOptions::new(&SOURCE_TABLES)
        }
    }

    /// One pass of the pipeline. Runs that fail are reported in the cycle, not returned as
    /// errors; an error here means a stage could not run at all (database down, bad config).
    pub async fn cycle(&self, stages: Stages) -> anyhow::Result<Cycle> {
        if stages == Stages::Inbox {
            return Ok(Cycle {
                inbox: self.process_inbox().await?,
                ..Cycle::default()
            });
        }
        // Missing configuration fails before any stage runs, not halfway through the cycle.
        if stages.extract() {
            self.config.source()?;
        }
        if stages.load() {
            self.config.warehouse()?;
        }
        if stages == Stages::All {
            // Boxed: three stages' futures nested inline overflow rustc's query depth when the
            // binary's main future is laid out (release builds).
            let mut cycle = Box::pin(self.overlapped()).await?;
            if self.config.inbox.is_some() {
                cycle.inbox = self.process_inbox().await?;
            }
            return Ok(cycle);
        }
        let mut cycle = Cycle::default();
        if stages.extract() {
            let progress = Progress::start("extracting changed rows");
            let outcome = self.extract(&self.extract_options()).await;
            progress.finish();
            let outcome = outcome?;
            extract::future::alert_future_rows(&outcome, self.alerts()).await;
            cycle.extract = Some(outcome);
        }
        if stages.transform() {
            // Every landing manifest not transformed yet: the new ones, and any an earlier cycle
            // missed (the local stand-in for Lambda's retries).
            let pending = transform::pending_runs(self.landing.as_ref(), self.processed.as_ref())
                .await
                .context("listing the landing runs to transform")?;
            // One run at a time, as S3 announces them, so progress can be shown per run.
            let progress = Progress::start("transforming");
            for (i, run) in pending.iter().enumerate() {
                progress.update(format!(
                    "transforming run {}/{} ({run})",
                    i + 1,
                    pending.len()
                ));
                cycle
                    .transformed
                    .extend(self.transform(std::slice::from_ref(run)).await);
            }
            progress.finish();
        }
        if stages.load() {
            let mut warehouse = self.warehouse().await?;
            let pending = load::pending_loads(&warehouse, self.processed.as_ref())
                .await
                .context("listing the processed runs to load")?;
            let progress = Progress::start("loading");
            for (i, run) in pending.iter().enumerate() {
                progress.update(format!("loading run {}/{} ({run})", i + 1, pending.len()));
                cycle
                    .loaded
                    .extend(self.load(&mut warehouse, std::slice::from_ref(run)).await);
            }
            progress.finish();
        }
        Ok(cycle)
    }

    /// All three stages at once, as in the cloud: transform takes each run as soon as extract
    /// commits it, load each run as soon as transform has written it, so the stages' work
    /// overlaps instead of adding up. Runs left pending by earlier cycles go first. Each stage
    /// still takes its runs one at a time, in commit order, through its one driver.
    ///
    /// Each stage is a task of its own, as each is a function of its own in the cloud: joined
    /// on one task, extract's merge and load's COPY encoding took turns on one thread while
    /// the second core waited.
    ///
    /// A stage that cannot run at all (the source or the warehouse unreachable) does not stop
    /// the others: what they can do is done, then the cycle fails with that stage's error.
    async fn overlapped(&self) -> anyhow::Result<Cycle> {
        let (committed, mut extracted) = mpsc::unbounded_channel::<RunId>();
        let (written, mut transformed) = mpsc::unbounded_channel::<RunId>();
        let (to_lake, mut for_lake) = mpsc::unbounded_channel::<RunId>();
        let shown = Arc::new(Shown {
            counts: Default::default(),
            lake: self.lake.is_some(),
            progress: Progress::start("extracting, transforming and loading"),
        });
        // Listed before extract starts, so a run committed in this cycle is not taken twice.
        let earlier = transform::pending_runs(self.landing.as_ref(), self.processed.as_ref())
            .await
            .context("listing the landing runs to transform")?;

        let local = self.clone();
        let extracting = StageTask::spawn(async move {
            let options = ExtractOptions {
                committed: Some(committed),
                ..local.extract_options()
            };
            let outcome = local.extract(&options).await;
            // The options, and with them the sender, are gone: transform finishes the queue.
            drop(options);
            if let Ok(outcome) = &outcome {
                extract::future::alert_future_rows(outcome, local.alerts()).await;
            }
            outcome
        });
        let (local, show) = (self.clone(), shown.clone());
        let transforming = StageTask::spawn(async move {
            let mut results = Vec::new();
            let mut queue = RunQueue::new(earlier, &mut extracted);
            while let Some((run, fresh)) = queue.next().await {
                if fresh {
                    show.step(0);
                }
                for (run, result) in local.transform(std::slice::from_ref(&run)).await {
                    if result.is_ok() {
                        // A load that could not start has dropped its end; the run stays pending.
                        let _ = written.send(run.clone());
                        // Without a lake nothing listens: the run is dropped with the channel.
                        let _ = to_lake.send(run.clone());
                    }
                    show.step(1);
                    results.push((run, result));
                }
            }
            results
        });
        let (local, show) = (self.clone(), shown.clone());
        let loading = StageTask::spawn(async move {
            let mut results = Vec::new();
            let mut warehouse = local.warehouse().await?;
            let earlier = load::pending_loads(&warehouse, local.processed.as_ref())
                .await
                .context("listing the processed runs to load")?;
            let mut queue = RunQueue::new(earlier, &mut transformed);
            while let Some((run, _)) = queue.next().await {
                results.extend(local.load(&mut warehouse, std::slice::from_ref(&run)).await);
                show.step(2);
            }
            anyhow::Ok(results)
        });
        // The lake is a failure domain of its own: it takes what transform wrote, whatever load
        // does with it, and a lake that cannot be written stops neither load nor the cycle's
        // other stages.
        let (local, show) = (self.clone(), shown.clone());
        let publishing = StageTask::spawn(async move {
            let Some(lake) = &local.lake else {
                return anyhow::Ok(Vec::new());
            };
            let earlier = lake
                .pending(local.processed.as_ref())
                .await
                .context("listing the processed runs to publish to the lake")?;
            let mut results = Vec::new();
            let mut queue = RunQueue::new(earlier, &mut for_lake);
            while let Some((run, _)) = queue.next().await {
                results.push(local.publish(lake, &run).await);
                show.step(3);
            }
            anyhow::Ok(results)
        });
        let (extracted, transformed, loaded, published) = tokio::join!(
            extracting.join(),
            transforming.join(),
            loading.join(),
            publishing.join()
        );
        if let Ok(shown) = Arc::try_unwrap(shown) {
            shown.progress.finish();
        }
        Ok(Cycle {
            extract: Some(extracted??),
            transformed: transformed?,
            loaded: loaded??,
            published: published??,
            inbox: Vec::new(),
        })
    }

    /// Every inbox file not processed yet, through the inbox's one driver, then reported as
    /// the Lambda reports it (rejections alerted once; loaded files published to the notify
    /// topic when one is set).
    pub async fn process_inbox(&self) -> anyhow::Result<Vec<inbox::FileResult>> {
        let mut warehouse = self.warehouse().await?;
        let progress = Progress::start("loading the inbox's files");
        let results = inbox::process(&mut warehouse, self.inbox.as_ref(), &inbox::Tables::All)
            .await
            .with_context(|| format!("reading the inbox at {}", self.inbox.describe()));
        progress.finish();
        let results = results?;
        // The folded result is for Lambda's retry decision; the cycle reports each file.
        let _ = inbox::report::report(
            &warehouse,
            &self.inbox.describe(),
            &results,
            self.alerts(),
            self.notices.as_deref(),
        )
        .await;
        Ok(results)
    }

    /// Transforms `runs` through the stage's one driver and reports the outcomes.
    pub async fn transform(
        &self,
        runs: &[RunId],
    ) -> Vec<(RunId, Result<TransformOutcome, TransformError>)> {
        let results =
            transform::process(runs, self.landing.as_ref(), self.processed.as_ref()).await;
        self.report(Stage::Transform, &results).await;
        results
    }

    /// Loads `runs` through the stage's one driver and reports the outcomes.
    pub async fn load(
        &self,
        warehouse: &mut Client,
        runs: &[RunId],
    ) -> Vec<(RunId, Result<LoadOutcome, LoadError>)> {
        let results = load::process(runs, warehouse, self.processed.as_ref()).await;
        self.report(Stage::Load, &results).await;
        results
    }

    /// Publishes `run` to the lake through its one driver and reports the outcome.
    pub async fn publish(
        &self,
        lake: &lake::Lake,
        run: &RunId,
    ) -> (RunId, Result<lake::Published, lake::LakeError>) {
        let results = [(
            run.clone(),
            lake::publish(lake, self.processed.as_ref(), run).await,
        )];
        self.report(Stage::Lake, &results).await;
        let [result] = results;
        result
    }

    /// Where alerts go: the topic when one is configured, else the log.
    fn alerts(&self) -> &dyn AlertSink {
        match &self.topic {
            Some(topic) => topic.as_ref(),
            None => &LogAlerts,
        }
    }

    /// Alerts failed runs through the Lambdas' reporter (once per quarantined run) when a
    /// topic is configured; without one, the cycle's printout is the report.
    async fn report<T, E>(&self, stage: Stage, results: &[(RunId, Result<T, E>)])
    where
        E: Classify + std::error::Error + Send + Sync + 'static,
    {
        if let Some(topic) = &self.topic {
            // The folded result is for Lambda's retry decision; the cycle reports each run.
            let _ = report_runs(stage, results, topic.as_ref(), self.processed.as_ref()).await;
        }
    }
}

/// The runs each stage of `etl run` has finished, on one progress line.
struct Shown {
    counts: [AtomicUsize; 4],
    /// Whether the lake is written (and its count shown).
    lake: bool,
    progress: Progress,
}

impl Shown {
    /// Counts one more run for `stage` (0 extract, 1 transform, 2 load, 3 lake) and shows the
    /// counts.
    fn step(&self, stage: usize) {
        self.counts[stage].fetch_add(1, Ordering::Relaxed);
        let [e, t, l, p] = self.counts.each_ref().map(|c| c.load(Ordering::Relaxed));
        let lake = if self.lake {
            format!(", published {p}")
        } else {
            String::new()
        };
        self.progress.update(format!(
            "runs extracted {e}, transformed {t}, loaded {l}{lake}"
        ));
    }
}

/// A stage of `etl run` on a task of its own. Dropping it aborts the task, so a cycle that is
/// dropped stops its stages as it did when they were plain futures.
struct StageTask<T>(tokio::task::JoinHandle<T>);

impl<T: Send + 'static> StageTask<T> {
    fn spawn(stage: impl Future<Output = T> + Send + 'static) -> Self {
        StageTask(tokio::spawn(stage))
    }

    /// The stage's result; a panic in the stage is an error of the cycle.
    async fn join(mut self) -> anyhow::Result<T> {
        (&mut self.0).await.context("a stage of the cycle panicked")
    }
}

impl<T> Drop for StageTask<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A stage's runs in `etl run`: those earlier cycles left pending first, then each one the
/// stage before announces, until it has stopped announcing. Each run once: a run written while
/// the pending list was read is both listed and announced.
struct RunQueue<'a> {
    earlier: std::vec::IntoIter<RunId>,
    announced: &'a mut mpsc::UnboundedReceiver<RunId>,
    taken: BTreeSet<RunId>,
}

impl<'a> RunQueue<'a> {
    fn new(earlier: Vec<RunId>, announced: &'a mut mpsc::UnboundedReceiver<RunId>) -> Self {
        RunQueue {
            earlier: earlier.into_iter(),
            announced,
            taken: BTreeSet::new(),
        }
    }

    /// The next run not taken yet, and whether it was announced in this cycle (not left
    /// pending before).
    async fn next(&mut self) -> Option<(RunId, bool)> {
        loop {
            let (run, fresh) = match self.earlier.next() {
                Some(run) => (run, false),
                None => (self.announced.recv().await?, true),
            };
            if self.taken.insert(run.clone()) {
                return Some((run, fresh));
            }
        }
    }
}

/// Prints a cycle as one line per run.
pub fn print_cycle(cycle: &Cycle) {
    if let Some(outcome) = &cycle.extract {
        for run in &outcome.runs {
            println!(
                "extract   {}  rows {:>9}  bytes {:>11}  {:.2}s",
                run.run_id,
                run.total_rows(),
                run.bytes,
                run.elapsed.as_secs_f64()
            );
        }
        if outcome.runs.is_empty() {
            println!("extract   nothing new ({:?})", outcome.stop);
        }
    }
    for (run, result) in &cycle.transformed {
        match result {
            Ok(o) => println!(
                "transform {run}  rows {:>9}  bytes {:>11}  {:.2}s",
                o.rows.values().sum::<u64>(),
                o.bytes,
                o.elapsed.as_secs_f64()
            ),
            Err(e) => println!("transform {run}  FAILED: {e}"),
        }
    }
    for (run, result) in &cycle.loaded {
        match result {
            Ok(LoadOutcome::Loaded { rows, elapsed, .. }) => println!(
                "load      {run}  rows {:>9}  {:.2}s",
                rows.values().sum::<u64>(),
                elapsed.as_secs_f64()
            ),
            Ok(LoadOutcome::AlreadyLoaded { loaded_at, .. }) => {
                println!("load      {run}  already loaded at {loaded_at}")
            }
            Err(e) => println!("load      {run}  FAILED: {e}"),
        }
    }
    for (run, result) in &cycle.published {
        match result {
            Ok(published) => {
                let (mut appended, mut rows) = (0, 0);
                for outcome in published.tables.values() {
                    if let lake::TableOutcome::Appended { rows: r, .. } = outcome {
                        appended += 1;
                        rows += r;
                    }
                }
                println!("lake      {run}  rows {rows:>9}  tables appended {appended}")
            }
            Err(e) => println!("lake      {run}  FAILED: {e}"),
        }
    }
    for f in &cycle.inbox {
        match &f.result {
            Ok(inbox::Outcome::Loaded(l)) => println!(
                "inbox     {}  {} {}  rows {:>9}  rejected {}",
                f.file, f.action, f.table, l.rows, l.rejected
            ),
            Ok(inbox::Outcome::Declared(_)) => {
                println!("inbox     {}  declaration of {} applied", f.file, f.table)
            }
            Ok(inbox::Outcome::Waiting) => {
                println!("inbox     {}  waiting for schema/{}.json", f.file, f.table)
            }
            Ok(inbox::Outcome::RejectedBefore { reason }) => {
                println!("inbox     {}  REJECTED: {reason}", f.file)
            }
            Err(e) => println!("inbox     {}  FAILED: {e}", f.file),
        }
    }
}

/// Runs cycles every `every` until Ctrl-C (or SIGTERM/SIGHUP). A signal during a cycle lets the
/// cycle finish (no write is ever cut in half); one while waiting stops at once.
pub async fn run_every(local: &Local, stages: Stages, every: Duration) -> anyhow::Result<()> {
    let mut interrupted = std::pin::pin!(shutdown_signal());
    loop {
        let started = tokio::time::Instant::now();
        let cycle = local.cycle(stages);
        tokio::pin!(cycle);
        let mut stop_after = false;
        let result = loop {
            tokio::select! {
                result = &mut cycle => break result,
                _ = &mut interrupted, if !stop_after => {
                    eprintln!("interrupted: finishing the current cycle, then stopping");
                    stop_after = true;
                }
            }
        };
        match result {
            Ok(cycle) => {
                print_cycle(&cycle);
                for failure in cycle.failures() {
                    tracing::error!(failure, "run failed");
                }
            }
            // The next tick retries, as the schedule would.
            Err(error) => tracing::error!(error = format!("{error:#}"), "cycle failed"),
        }
        if stop_after {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + every) => {}
            _ = &mut interrupted => return Ok(()),
        }
    }
}

/// Resolves on Ctrl-C, SIGTERM or SIGHUP (a closed terminal): the signals after which a
/// long-running command should stop cleanly.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = signal(SignalKind::terminate());
    let hangup = signal(SignalKind::hangup());
    match (terminate, hangup) {
        (Ok(mut terminate), Ok(mut hangup)) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
                _ = hangup.recv() => {}
            }
        }
        // Without signal handlers (never expected on Unix), Ctrl-C still works.
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
