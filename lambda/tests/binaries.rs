//! The Lambda binaries, each run as a process under a Lambda Runtime API emulator and fed
//! the committed fixture events (scenarios in `etl_tests::lambdas`).

#[tokio::test(flavor = "multi_thread")]
async fn the_extract_binary_handles_its_fixture_events() {
    etl_tests::lambdas::extract_binary(env!("CARGO_BIN_EXE_extract")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_transform_binary_handles_its_fixture_events() {
    etl_tests::lambdas::transform_binary(env!("CARGO_BIN_EXE_transform")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_transform_binarys_memory_follows_the_run_not_the_input() {
    etl_tests::lambdas::transform_memory_binary(env!("CARGO_BIN_EXE_transform")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_load_binary_handles_its_fixture_events() {
    etl_tests::lambdas::load_binary(env!("CARGO_BIN_EXE_load")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_binary_loads_files_and_answers_the_log_endpoint() {
    etl_tests::lambdas::inbox_binary(env!("CARGO_BIN_EXE_inbox")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lake_binary_publishes_each_announced_run_once() {
    etl_tests::lambdas::lake_binary(env!("CARGO_BIN_EXE_lake")).await;
}
