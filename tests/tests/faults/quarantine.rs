//! Crashes around a quarantine and its alert, through the transform Lambda's handler (moto
//! for S3 and SNS): a spoiled landing run is delivered, the handler dies at the point, and
//! Lambda's redeliveries (to a fresh instance, as after a crash) finish the job. Afterwards the
//! run has its quarantine record with the reason, exactly the promised number of alerts went
//! out, and the good runs load to a warehouse that reconciles with the OLTP.

use etl_adapters::quarantine;
use etl_adapters::store::ObjectStore;
use etl_contract::manifest::Stage;
use etl_tests::alerts::AlertTopic;
use etl_tests::craft::{design_line, edit_in_place, landing_run};
use etl_tests::lambdas::{Cloud, lambda_log_env, manifest_event, transform_and_load};

use crate::reconcile::assert_warehouse_reconciles;

/// Crashes transform at `point` while it quarantines a landing file edited after its manifest;
/// `alerts` is how many alerts the run must have published once redeliveries are done.
async fn crash_while_quarantining(point: &'static str, alerts: usize) {
    let scenario = fail::FailScenario::setup();
    let cloud = Cloud::new(&format!("f_{}", point.replace("::", "_"))).await;
    let topic = AlertTopic::create(&cloud.sdk, "etl-alerts").await;
    let config = cloud.config(Some(topic.arn.clone()));
    lambda_log_env();
    let history = cloud.extract().await;
    let (bad, manifest) = landing_run(&cloud.landing, "design", &[design_line(9001)]).await;
    edit_in_place(&cloud.landing, &manifest.tables["design"].parts[0].key).await;

    fail::cfg(point, "panic").unwrap();
    let transform = etl_lambda::transform::Handler::new(&config, &cloud.sdk)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    let delivery = manifest_event("landing", bad.as_str());
    let crashed = tokio::spawn(async move { transform.handle(delivery).await }).await;
    fail::remove(point);
    assert!(
        crashed.as_ref().is_err_and(|e| e.is_panic()),
        "the fail point {point} was never reached: {crashed:?}"
    );

    // Lambda retries a failed asynchronous invocation twice, here in a fresh instance.
    let transform = etl_lambda::transform::Handler::new(&config, &cloud.sdk)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    for _ in 0..2 {
        let failure = transform
            .handle(manifest_event("landing", bad.as_str()))
            .await
            .unwrap_err();
        assert_eq!(failure.error_type(), "Permanent", "{failure}");
    }
    let record = quarantine::error_of(&cloud.processed, &bad, Stage::Transform)
        .await
        .unwrap()
        .expect("a quarantine record after the redeliveries");
    assert!(record.contains("the sha256 is"), "{record}");
    let kept = cloud
        .processed
        .list(&format!(
            "{}input/",
            quarantine::prefix(&bad, Stage::Transform)
        ))
        .await
        .unwrap();
    assert_eq!(
        kept.len(),
        2,
        "the manifest and its part are kept: {kept:?}"
    );

    let published = topic.published().await;
    assert_eq!(
        published.len(),
        alerts,
        "alerts after a crash at {point}: {published:#?}"
    );
    for (subject, body) in &published {
        assert!(subject.contains(bad.as_str()), "{subject}");
        assert!(body.contains("the sha256 is"), "{body}");
    }

    // The good runs go on.
    let load = etl_lambda::load::Handler::new(config.clone(), &cloud.sdk)
        .await
        .unwrap_or_else(|f| panic!("{f}"));
    transform_and_load(&transform, &load, &history).await;
    assert_warehouse_reconciles(
        &cloud.source.connect().await,
        &cloud.warehouse.connect().await,
    )
    .await;
    scenario.teardown();
    eprintln!(
        "fault point {point}: crashed while quarantining, recovered by redelivery, \
         {alerts} alert(s), warehouse reconciles with the OLTP"
    );
}

macro_rules! quarantine_points {
    ($($test:ident => $point:literal, $alerts:literal;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $test() {
                crash_while_quarantining($point, $alerts).await;
            }
        )*
    };
}

quarantine_points! {
    quarantine_before_copying_the_inputs => "quarantine::before_copy", 1;
    quarantine_before_the_error_text => "quarantine::before_error_text", 1;
    quarantine_after_the_error_text => "quarantine::after_error_text", 1;
    alert_before_publishing => "alert::before_publish", 1;
    // The documented at-least-once window: published, not yet recorded as published.
    alert_after_publishing => "alert::after_publish", 2;
    alert_after_recording_it => "alert::after_record", 1;
}
