//! The transform Lambda binary, run as a process under a Lambda Runtime API emulator and fed the
//! committed fixture events (scenario in `etl_tests::lambdas`).

#[tokio::test(flavor = "multi_thread")]
async fn the_transform_binary_handles_its_fixture_events() {
    etl_tests::lambdas::transform_binary(env!("CARGO_BIN_EXE_transform")).await;
}
