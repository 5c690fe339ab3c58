//! Bounded retries with exponential backoff for failures that [`Classify`] as retryable.
//!
//! A transient fault (a throttled request, a dropped connection, a 5xx) should cost a second,
//! not a run: the work is retried in place a few times, each wait about twice the last, with
//! jitter so that concurrent Lambdas do not retry in step. Permanent failures are returned at
//! once, and the number of tries is bounded so that an outage still fails the run quickly and
//! visibly (the stage's own retry — the next schedule tick, Lambda's async retries — takes over).

use std::future::Future;
use std::time::Duration;

use etl_contract::error::{Classify, ErrorKind};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Tries in all, the first included; 1 means no retry.
    pub attempts: u32,
    /// The wait before the first retry (before jitter); each later wait doubles it.
    pub first_delay: Duration,
    /// No single wait is longer than this.
    pub max_delay: Duration,
}

impl Backoff {
    /// Object store requests: 4 tries over at most 0.2 + 0.4 + 0.8 = 1.4 s of waiting, short
    /// next to a run and long enough to ride out S3's `SlowDown` and a dropped connection.
    pub const OBJECT_STORE: Backoff = Backoff {
        attempts: 4,
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
    };

    /// The wait before retry `n` (1-based), before jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The longest a failing operation waits in all before its last error is returned.
    pub fn max_total_delay(&self) -> Duration {
        (1..self.attempts).map(|n| self.delay(n)).sum()
    }
}

/// Runs `op` until it succeeds, fails permanently, or has been tried `backoff.attempts` times;
/// returns its last result. `what` names the work in the log line of each retry.
pub async fn retry<T, E, F, Fut>(backoff: &Backoff, what: &str, mut op: F) -> Result<T, E>
where
    E: Classify + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(error) if error.kind() == ErrorKind::Retryable && attempt < backoff.attempts => {
                let delay = jittered(backoff.delay(attempt));
                tracing::warn!(
                    what,
                    attempt,
                    of = backoff.attempts,
                    delay_ms = delay.as_millis() as u64,
                    %error,
                    "retryable failure; retrying"
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// A wait between half and all of `delay`, so that concurrent retries spread out.
fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + rand::random::<f64>() / 2.0)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[derive(Debug)]
    struct Fault(ErrorKind);

    impl std::fmt::Display for Fault {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{:?} fault", self.0)
        }
    }

    impl Classify for Fault {
        fn disposition(&self) -> etl_contract::error::Disposition {
            match self.0 {
                ErrorKind::Retryable => etl_contract::error::Disposition::RetryInPlace,
                ErrorKind::Permanent => etl_contract::error::Disposition::Fail,
            }
        }
    }

    const NO_WAIT: Backoff = Backoff {
        attempts: 4,
        first_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    };

    /// Runs `retry` over a sequence of outcomes; returns the result and the number of calls.
    async fn run(outcomes: &[Result<u32, ErrorKind>]) -> (Result<u32, ErrorKind>, usize) {
        let calls = Cell::new(0);
        let result = retry(&NO_WAIT, "test", || {
            let n = calls.get();
            calls.set(n + 1);
            let outcome = outcomes[n.min(outcomes.len() - 1)];
            async move { outcome.map_err(Fault) }
        })
        .await;
        (result.map_err(|f| f.0), calls.get())
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_until_success() {
        use ErrorKind::Retryable;
        assert_eq!(
            run(&[Err(Retryable), Err(Retryable), Ok(7)]).await,
            (Ok(7), 3)
        );
    }

    #[tokio::test]
    async fn the_number_of_tries_is_bounded() {
        assert_eq!(
            run(&[Err(ErrorKind::Retryable)]).await,
            (Err(ErrorKind::Retryable), 4)
        );
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        assert_eq!(
            run(&[Err(ErrorKind::Retryable), Err(ErrorKind::Permanent), Ok(1)]).await,
            (Err(ErrorKind::Permanent), 2)
        );
    }

    #[test]
    fn waits_double_up_to_the_cap() {
        let b = Backoff::OBJECT_STORE;
        assert_eq!(b.delay(1), Duration::from_millis(200));
        assert_eq!(b.delay(2), Duration::from_millis(400));
        assert_eq!(b.delay(3), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(2));
        assert_eq!(b.delay(40), Duration::from_secs(2));
        assert_eq!(b.max_total_delay(), Duration::from_millis(1400));
        for _ in 0..100 {
            let d = jittered(b.delay(2));
            assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(400));
        }
    }
}
