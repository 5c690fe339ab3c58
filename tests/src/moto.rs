//! A real AWS API server for tests: `moto_server` (PyPI `moto[server]`) on a loopback port of its own.
//!
//! It speaks S3 (with conditional writes and bucket notifications to SQS), SNS, SQS, Scheduler,
//! Secrets Manager and IAM, so the AWS adapters are tested against real HTTP and real SDK
//! serialisation rather than a mock of our own making.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long moto_server may take to start (a cold Python start on a loaded 2-core machine).
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running `moto_server`, killed when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts `moto_server` on a port it binds itself (`-p 0`) and returns once it says where
    /// it listens. Choosing a free port for it beforehand would race with every other test
    /// doing the same: two servers told the same port, one of them dies, and its test talks to
    /// the other's until that one is gone.
    ///
    /// Panics, saying how to install it, when `moto_server` is not installed: an AWS test must
    /// fail loudly rather than skip.
    pub fn start() -> Moto {
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
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
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tell, told) = std::sync::mpsc::channel();
        // The server logs every request to stderr: it is read for as long as the server runs,
        // so the pipe never fills and blocks it.
        std::thread::spawn(move || {
            let mut tell = Some(tell);
            let mut startup = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let port = line
                    .split("Running on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u16>().ok());
                match (port, tell.take()) {
                    (Some(port), Some(tell)) => {
                        let _ = tell.send(Ok(port));
                    }
                    (None, Some(waiting)) => {
                        startup.push(line);
                        tell = Some(waiting);
                    }
                    (_, None) => {}
                }
            }
            if let Some(tell) = tell {
                let _ = tell.send(Err(startup.join("\n")));
            }
        });
        match told.recv_timeout(START_LIMIT) {
            Ok(Ok(port)) => Moto { child, port },
            Ok(Err(stderr)) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!("moto_server exited at start ({status}): {stderr}")
            }
            Err(_) => {
                let _ = child.kill();
                panic!("moto_server did not say where it listens within {START_LIMIT:?}")
            }
        }
    }

    /// The endpoint to give the AWS SDK (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
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
        self.sdk_config_as("testing", "testing").await
    }

    /// The same, signing with access key `id` and `secret` (see `enforce_signatures`).
    pub async fn sdk_config_as(&self, id: &str, secret: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(etl_adapters::aws::https_client())
            .endpoint_url(self.endpoint())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                id, secret, None, None, "moto",
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
        etl_adapters::store::S3Store::new(sdk, bucket, "")
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

    /// Turns on moto's request authentication (every later call must carry a SigV4 signature
    /// moto recomputes with botocore's signer, from an access key moto issued) and returns such
    /// a key, allowed everything: for testing our own request signing against AWS's.
    pub fn enforce_signatures(&self) -> (String, String) {
        let script = r#"
import json, sys, urllib.request, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
iam.create_user(UserName="signer")
iam.put_user_policy(UserName="signer", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17",
     "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="signer")["AccessKey"]
urllib.request.urlopen(urllib.request.Request(
    sys.argv[1] + "/moto-api/reset-auth", data=b"0", method="POST",
    headers={"Content-Type": "text/plain"}))
print(key["AccessKeyId"], key["SecretAccessKey"])
"#;
        let output = Command::new("python")
            .args(["-c", script, &self.endpoint()])
            .output()
            .unwrap_or_else(|e| panic!("cannot run python ({e}): run the tests with `make test`"));
        assert!(
            output.status.success(),
            "issuing a moto access key: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut words = stdout.split_whitespace();
        match (words.next(), words.next()) {
            (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
            _ => panic!("no access key from moto: {stdout}"),
        }
    }

    /// Creates a Glue database (Terraform creates the lake's; the lake creates its tables).
    pub async fn create_glue_database(&self, sdk: &aws_config::SdkConfig, name: &str) {
        lake::GlueClient::new(sdk)
            .call(
                "CreateDatabase",
                &serde_json::json!({"DatabaseInput": {"Name": name}}),
            )
            .await
            .unwrap_or_else(|e| panic!("creating Glue database {name}: {e}"));
    }
}

/// The region tests use.
pub const REGION: &str = "us-east-1";
