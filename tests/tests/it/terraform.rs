//! Terraform and the code cannot drift apart: the variables each function receives are ones the
//! configuration module reads, each function gets what its stage needs, and the key prefixes and
//! metric names Terraform wires up are the constants the code uses.

use std::collections::{BTreeMap, BTreeSet};

use etl_contract::config;
use etl_contract::layout;

fn terraform_file(name: &str) -> String {
    let path = format!("{}/../terraform/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The `environment = { <function> = { NAME = ... } }` map of terraform/locals.tf: the variable
/// names each function receives.
fn lambda_environment() -> BTreeMap<String, BTreeSet<String>> {
    let text = terraform_file("locals.tf");
    let start = text
        .find("  environment = {")
        .expect("locals.tf defines the functions' environment");
    let mut functions = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text[start..].lines().skip(1) {
        let line = line.trim();
        if let Some(name) = line.strip_suffix(" = {") {
            current = Some(name.to_owned());
            functions.insert(name.to_owned(), BTreeSet::new());
        } else if line == "}" {
            if current.take().is_none() {
                break; // the end of the environment map
            }
        } else if let (Some(function), Some((name, _))) = (&current, line.split_once('='))
            && let Some(set) = functions.get_mut(function)
        {
            set.insert(name.trim().to_owned());
        }
    }
    functions
}

/// The string value of `name = "..."` in terraform/locals.tf.
fn local(name: &str) -> String {
    let text = terraform_file("locals.tf");
    text.lines()
        .map(str::trim)
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| panic!("locals.tf has no {name}"))
}

#[test]
fn every_function_variable_is_one_the_code_reads_and_each_stage_gets_what_it_needs() {
    let env = lambda_environment();
    assert_eq!(
        env.keys().map(String::as_str).collect::<Vec<_>>(),
        ["extract", "inbox", "inbox_log", "lake", "load", "transform"]
    );
    let known: BTreeSet<&str> = config::ALL_VARIABLES.into_iter().collect();
    for (function, vars) in &env {
        for var in vars.iter().filter(|v| v.starts_with("ETL_")) {
            assert!(
                known.contains(var.as_str()),
                "Terraform gives {function} {var}, which contract/src/config.rs does not read"
            );
        }
        assert!(
            vars.contains(config::ALERT_TOPIC_ARN),
            "{function} must get {} or its alerts go only to the log",
            config::ALERT_TOPIC_ARN
        );
    }
    let needs = [
        ("extract", vec![config::SOURCE_SECRET_ARN, config::LANDING]),
        ("transform", vec![config::LANDING, config::PROCESSED]),
        (
            "load",
            vec![config::WAREHOUSE_SECRET_ARN, config::PROCESSED],
        ),
        (
            "inbox",
            vec![
                config::WAREHOUSE_SECRET_ARN,
                config::INBOX,
                config::NOTIFY_TOPIC_ARN,
            ],
        ),
        (
            "inbox_log",
            vec![config::WAREHOUSE_SECRET_ARN, config::INBOX],
        ),
        (
            "lake",
            vec![config::PROCESSED, config::LAKE, config::LAKE_GLUE_DATABASE],
        ),
    ];
    for (function, required) in needs {
        for var in required {
            assert!(env[function].contains(var), "{function} lacks {var}");
        }
    }
    // Cloud functions read credentials from secrets, never from URLs in plain environment.
    for vars in env.values() {
        assert!(!vars.contains(config::SOURCE_URL) && !vars.contains(config::WAREHOUSE_URL));
    }
}

/// The lake's tables Terraform schedules VACUUM for are the warehouse's.
#[test]
fn the_lakes_tables_are_the_warehouses() {
    let lake = terraform_file("lake.tf");
    let start = lake
        .find("lake_tables = toset([")
        .expect("lake.tf lists lake_tables");
    let end = start + lake[start..].find("])").unwrap_or(0);
    let mut listed: Vec<&str> = lake[start..end].split('"').skip(1).step_by(2).collect();
    listed.sort();
    let mut tables: Vec<&str> = etl_contract::warehouse::WAREHOUSE_TABLES
        .iter()
        .map(|t| t.name)
        .collect();
    tables.sort();
    assert_eq!(listed, tables);
}

#[test]
fn key_prefixes_and_metrics_match_the_code() {
    assert_eq!(local("data_prefix"), layout::DATA_PREFIX);
    assert_eq!(local("manifests_prefix"), layout::MANIFESTS_PREFIX);
    assert_eq!(local("state_prefix"), layout::STATE_PREFIX);
    assert_eq!(local("quarantine_prefix"), layout::QUARANTINE_PREFIX);
    assert_eq!(local("watermark_key"), layout::WATERMARK_KEY);

    let triggers = terraform_file("triggers.tf");
    assert_eq!(
        triggers
            .matches("filter_prefix       = local.manifests_prefix")
            .count(),
        2,
        "both notifications must filter on the manifests prefix"
    );
    let alarms = terraform_file("alarms.tf");
    assert!(
        alarms.contains(&format!(
            "namespace           = \"{}\"",
            etl_adapters::telemetry::METRICS_NAMESPACE
        )),
        "the freshness alarm must read the namespace the functions write"
    );
    assert!(alarms.contains(&format!(
        "metric_name         = \"{}\"",
        etl_adapters::telemetry::WATERMARK_LAG_METRIC
    )));
}
