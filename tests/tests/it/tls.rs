//! TLS to the databases as libpq does it, against real servers with certificates of the
//! harness's test CA (`etl_tests::tls`), and database passwords that follow their secret.

use std::time::Duration;

use etl_adapters::DbError;
use etl_adapters::db::{self, password_rejected};
use etl_adapters::secrets::DatabaseUrl;
use etl_contract::config::DatabaseLocator;
use etl_contract::error::{Classify, ErrorKind};
use etl_tests::Moto;
use etl_tests::tls::{self, Presents, pki};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn connect(url: &str) -> Result<tokio_postgres::Client, DbError> {
    db::connect("warehouse", url, "etl-test", TIMEOUT).await
}

/// Whether the server sees this connection as encrypted.
async fn encrypted(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// A refusal: one line, naming the database and what to do, classified as a person's job.
fn refused(result: Result<tokio_postgres::Client, DbError>, expected: &str) -> String {
    let error = match result {
        Ok(_) => panic!("connected, but expected a refusal mentioning {expected:?}"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert!(
        matches!(error, DbError::Certificate { .. }),
        "not a certificate refusal: {message}"
    );
    assert_eq!(error.kind(), ErrorKind::Permanent, "{message}");
    assert!(message.contains(expected), "{message}");
    assert!(message.contains("warehouse database"), "{message}");
    assert!(!message.contains('\n'), "more than one line: {message}");
    message
}

fn param(path: &std::path::Path) -> String {
    path.display().to_string().replace('/', "%2F")
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_connects_to_the_right_server_and_refuses_every_other() {
    let server = tls::server(Presents::CaSigned);
    let (ca, other_ca) = (param(&pki().ca), param(&pki().other_ca));

    // The right CA and a name on the certificate, by name and by address.
    for host in tls::CERT_NAMES {
        let url = tls::url(
            server,
            host,
            "postgres",
            "postgres",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        );
        let client = connect(&url)
            .await
            .unwrap_or_else(|e| panic!("verify-full to {host}: {e}"));
        assert!(encrypted(&client).await);
    }

    // A CA that did not sign the server's certificate.
    let url = tls::url(
        server,
        "localhost",
        "postgres",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={other_ca}"),
    );
    let message = refused(connect(&url).await, "is not signed by a CA in sslrootcert");
    assert!(
        message.contains(&pki().other_ca.display().to_string()),
        "{message}"
    );

    // No sslrootcert: the built-in RDS bundle, which did not sign a test server either.
    let url = tls::url(
        server,
        "localhost",
        "postgres",
        "postgres",
        "sslmode=verify-full",
    );
    refused(connect(&url).await, "the built-in Amazon RDS CA bundle");

    // The right CA, the wrong name: the certificate is for localhost and 127.0.0.1 only. The
    // TCP connection goes to the same server (hostaddr); only the name checked differs.
    let wrong_name = tls::url(
        server,
        "db.wrong-name.invalid",
        "postgres",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={ca}&hostaddr=127.0.0.1"),
    );
    refused(
        connect(&wrong_name).await,
        "not valid for the host name db.wrong-name.invalid",
    );
    // verify-ca checks the chain and not the name, as in libpq.
    let client = connect(&wrong_name.replace("verify-full", "verify-ca"))
        .await
        .unwrap_or_else(|e| panic!("verify-ca with another name: {e}"));
    assert!(encrypted(&client).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_self_signed_server_is_refused_by_the_verifying_modes_only() {
    let server = tls::server(Presents::SelfSigned);
    let ca = param(&pki().ca);
    for mode in ["verify-full", "verify-ca"] {
        let url = tls::url(
            server,
            "localhost",
            "postgres",
            "postgres",
            &format!("sslmode={mode}&sslrootcert={ca}"),
        );
        refused(connect(&url).await, "presented a self-signed certificate");
    }
    // require encrypts without verifying (libpq's meaning): it connects, which is why secrets
    // default to verify-full.
    let url = tls::url(
        server,
        "localhost",
        "postgres",
        "postgres",
        "sslmode=require",
    );
    let client = connect(&url).await.unwrap();
    assert!(encrypted(&client).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_string_with_an_unsupported_mode_fails_before_connecting() {
    let server = tls::server(Presents::CaSigned);
    let url = tls::url(server, "localhost", "etl", "postgres", "sslmode=allow");
    let error = connect(&url).await.map(|_| ()).unwrap_err();
    assert!(matches!(error, DbError::BadTlsParameters { .. }), "{error}");
    assert!(error.to_string().contains("verify-full"), "{error}");
}

/// A login role with a password on the TLS test server, dropped at the end of the test.
struct PasswordRole {
    name: String,
    admin: tokio_postgres::Client,
}

impl PasswordRole {
    async fn create(label: &str, password: &str) -> PasswordRole {
        let server = tls::server(Presents::CaSigned);
        let admin_url = tls::url(
            server,
            "localhost",
            "postgres",
            "postgres",
            &format!("sslmode=verify-full&sslrootcert={}", param(&pki().ca)),
        );
        let admin = connect(&admin_url).await.unwrap();
        let name = format!("etl_test_{}_{label}", std::process::id());
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN PASSWORD '{password}'"
            ))
            .await
            .unwrap();
        PasswordRole { name, admin }
    }

    async fn set_password(&self, password: &str) {
        self.admin
            .batch_execute(&format!("ALTER ROLE {} PASSWORD '{password}'", self.name))
            .await
            .unwrap();
    }

    async fn drop(self) {
        self.admin
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}'; \
                 DROP ROLE {0}",
                self.name
            ))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_password_is_read_again_from_the_secret() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let server = tls::server(Presents::CaSigned);
    let role = PasswordRole::create("rotation", "first-Pa55").await;
    let secret = |password: &str| {
        serde_json::json!({
            "engine": "postgres",
            "host": "localhost",
            "port": server.port(),
            "username": role.name,
            "password": password,
            "dbname": "postgres",
            "sslrootcert": pki().ca.display().to_string(),
            // SCRAM bound to this TLS channel: a relay that terminates TLS cannot log in.
            "channel_binding": "require",
        })
        .to_string()
    };
    let arn = secrets
        .create_secret()
        .name("etl/warehouse")
        .secret_string(secret("first-Pa55"))
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();

    // Cold start: the secret is read once; verify-full is its default.
    let url = DatabaseUrl::resolve(&DatabaseLocator::SecretArn(arn.clone()), &sdk)
        .await
        .unwrap();
    let before = url.current().await;
    assert!(before.contains("sslmode=verify-full"), "secret default");
    let client = url.connect("warehouse", "etl-test", TIMEOUT).await.unwrap();
    assert!(encrypted(&client).await);
    drop(client);

    // Rotation: the database and the secret get a new password; the warm process still holds
    // the old one, which the server now refuses.
    role.set_password("second-Pa55").await;
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret("second-Pa55"))
        .send()
        .await
        .unwrap();
    let stale = connect(&before).await.map(|_| ()).unwrap_err();
    assert!(password_rejected(&stale), "{stale}");

    // The next connection re-reads the secret and logs in, with no restart.
    let client = url
        .connect("warehouse", "etl-test", TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("after rotation: {e}"));
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, role.name);
    assert_ne!(url.current().await, before);
    drop(client);

    // A password the secret does not know either: the refusal is returned (retryable: the
    // secret may be updated next), once, and it quotes no password.
    role.set_password("third-Pa55").await;
    let error = url
        .connect("warehouse", "etl-test", TIMEOUT)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(password_rejected(&error), "{error}");
    assert_eq!(error.kind(), ErrorKind::Retryable);
    let message = error.to_string();
    assert!(!message.contains("Pa55"), "a password leaked: {message}");
    role.drop().await;
}
