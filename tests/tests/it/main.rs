//! Integration tests of the workspace, in one test binary (one link of the heavy dependencies).
//! They run against a real Postgres from the harness; AWS tests against a real `moto_server`.

mod cloud;
mod extract_stage;
mod harness;
mod hostile;
mod inbox;
mod lake;
mod load_stage;
mod messages;
mod pipeline;
mod reconcile;
mod report;
mod seed;
mod simulate;
mod support;
mod terraform;
mod tls;
mod transform_stage;
