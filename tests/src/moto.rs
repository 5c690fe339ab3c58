//! A real AWS API server for tests: `moto_server` (PyPI `moto[server]`) on a free loopback port.
//!
//! It speaks S3 (with conditional writes and bucket notifications to SQS), SNS, SQS, Scheduler,
//! Secrets Manager and IAM, so the AWS adapters are tested against real HTTP and real SDK
//! serialisation rather than a mock of our own making.

use std::io::Read;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `moto_server`, killed when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts `moto_server` and waits until it answers HTTP.
    ///
    /// Panics, saying how to install it, when `moto_server` is not installed: an AWS test must
    /// fail loudly rather than skip.
    pub fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free loopback port for moto_server: {e}"));
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}): run the tests with `make test`, which \
                     installs it into the project's .venv (scripts/ensure-tools.sh moto) and puts \
                     .venv/bin on PATH"
                )
            });
        let mut moto = Moto { child, port };
        moto.wait_ready(Duration::from_secs(30));
        moto
    }

    /// The endpoint to give the AWS SDK (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls the server's readiness: a readiness check, not a sleep standing in for one.
    fn wait_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr);
                }
                panic!("moto_server exited at start ({status}): {stderr}");
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {} within {limit:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// AWS SDK configuration for this server: its endpoint, a region, and the dummy credentials
    /// moto accepts. Built explicitly so tests never depend on the process environment.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// The same settings as environment variables, for a Lambda binary run as a process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ]
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, sdk: &aws_config::SdkConfig, bucket: &str) {
        // The store's own client: path-style addressing, as every S3 call of the tests uses.
        etl_shared::store::S3Store::new(sdk, bucket, "")
            .client()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "creating bucket {bucket}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            });
    }
}

/// The region tests use.
pub const REGION: &str = "us-east-1";
