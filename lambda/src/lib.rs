//! `etl-lambda`: the Lambda edge. The pipeline's three functions', the inbox's and the lake's
//! handlers and their `provided.al2023` binaries, the S3 and EventBridge events, and what only
//! a Lambda needs: the invocation deadline and the diagnostic a failed invocation returns.
//!
//! A handler builds what it can once at cold start, turns an event into the runs it names and
//! calls its stage's one driver (`extract::extract`, `transform::process`, `load::process`),
//! then the one reporter (`etl_adapters::report`) that `etl run` uses too. Nothing else here
//! knows about S3 events or Lambda.

pub mod event;
pub mod extract;
pub mod inbox;
pub mod lake;
pub mod load;
pub mod transform;

use std::time::{Duration, SystemTime};

use etl_adapters::report::Failure;
use etl_adapters::store::{self, ObjectStore};
use etl_contract::config::StoreLocation;
use etl_contract::error::ConfigError;

/// Runs a Lambda binary's `main` on a multi-threaded runtime, malloc's arenas bounded first
/// (`etl_adapters::memory`): before any thread exists, which `#[tokio::main]` would not allow.
pub fn start<F>(main: impl FnOnce() -> F) -> Result<(), lambda_runtime::Error>
where
    F: std::future::Future<Output = Result<(), lambda_runtime::Error>>,
{
    etl_adapters::memory::bound_malloc_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(main())
}

/// The diagnostic Lambda records for a failed invocation: its `errorType` is `Retryable` or
/// `Permanent`, so an operator (and a Step Functions `Retry`, should one be added) can tell at
/// a glance whether Lambda's own retries can help.
pub fn diagnostic(failure: Failure) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: failure.error_type().to_owned(),
        error_message: failure.message,
    }
}

/// The store a variable names, or a configuration failure naming the variable.
pub fn required_store(
    location: Option<&StoreLocation>,
    var: &'static str,
    sdk: &aws_config::SdkConfig,
) -> Result<Box<dyn ObjectStore>, Failure> {
    let location = location.ok_or_else(|| {
        Failure::of(&ConfigError::Missing {
            var,
            hint: "a bucket, s3://bucket[/prefix]",
        })
    })?;
    store::open(location, Some(sdk)).map_err(|e| Failure::of(&e))
}

/// The key prefix of a store location (empty for a bucket root or a directory).
pub fn prefix_of(location: Option<&StoreLocation>) -> String {
    match location {
        Some(StoreLocation::S3 { prefix, .. }) => prefix.clone(),
        _ => String::new(),
    }
}

/// How long a handler may take new work before Lambda's `deadline`: all but a fifth of the
/// time left, keeping at least 10 s (one extract run with its manifest) for finishing up.
pub fn work_budget(deadline: SystemTime, now: SystemTime) -> Duration {
    let left = deadline.duration_since(now).unwrap_or(Duration::ZERO);
    let margin = (left / 5).max(Duration::from_secs(10)).min(left);
    left - margin
}

/// The instant after which a handler takes no new work (see [`work_budget`]).
pub fn stop_taking_work_at(deadline: SystemTime) -> tokio::time::Instant {
    tokio::time::Instant::now() + work_budget(deadline, SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use etl_contract::error::ErrorKind;

    #[test]
    fn the_budget_leaves_a_margin() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let secs = |s| Duration::from_secs(s);
        assert_eq!(work_budget(now + secs(300), now), secs(240));
        assert_eq!(work_budget(now + secs(30), now), secs(20));
        assert_eq!(work_budget(now + secs(5), now), Duration::ZERO);
        assert_eq!(work_budget(now - secs(5), now), Duration::ZERO);
    }

    #[test]
    fn failures_become_typed_diagnostics() {
        let f = Failure::new(ErrorKind::Permanent, &std::io::Error::other("bad manifest"));
        let d = diagnostic(f);
        assert_eq!(d.error_type, "Permanent");
        assert_eq!(d.error_message, "bad manifest");
    }
}
