//! A real Postgres for tests.
//!
//! With `ETL_TEST_DATABASE_URL` set (an admin URL of an existing server), tests use that server.
//! Otherwise the first test that asks starts a throwaway cluster for the whole test process:
//! `initdb` + `pg_ctl` found on PATH or under `/usr/lib/postgresql/*/bin`, run as the `postgres`
//! system user when we are root (initdb and postgres refuse root), listening on a free loopback
//! port with `fsync=off`, serving TLS with a certificate of the harness's test CA
//! ([`crate::tls`]). It is stopped and deleted when the process exits, and a cluster left
//! behind by a killed test process is cleaned up by the next one.
//!
//! Each test asks for its own databases ([`TestDatabase`]) and they are dropped when it ends,
//! pass or fail, so a shared server is left as it was found.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use etl_devtools::pgcluster::{Cluster, ClusterOptions, process_alive};
use tokio_postgres::NoTls;

/// The environment variable naming an existing server to test against.
pub const TEST_DATABASE_URL: &str = "ETL_TEST_DATABASE_URL";

/// Prefix of every database the harness creates, so stale ones are recognisable.
const DB_PREFIX: &str = "etl_test_";
/// Prefix of the throwaway cluster's directory under the temp dir.
const CLUSTER_PREFIX: &str = "etl-test-pg-";

/// The server tests run against.
#[derive(Debug)]
pub struct Server {
    /// A URL of the server's maintenance database (`postgres`), with admin rights.
    admin_url: url::Url,
    /// Whether this is the harness's own throwaway cluster.
    cluster: bool,
}

impl Server {
    /// URL of database `name` on this server.
    pub fn url_for(&self, name: &str) -> String {
        let mut url = self.admin_url.clone();
        url.set_path(&format!("/{name}"));
        url.to_string()
    }

    pub fn admin_url(&self) -> &str {
        self.admin_url.as_str()
    }

    /// Whether this is a throwaway cluster the harness owns (tests may restart it).
    pub fn is_throwaway(&self) -> bool {
        self.cluster
    }
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The shared server, started on first use.
///
/// Panics with a message saying what is missing when no server can be had: a test that needs
/// Postgres must fail loudly, never skip.
pub fn server() -> &'static Server {
    SERVER.get_or_init(|| match std::env::var(TEST_DATABASE_URL) {
        Ok(url) if !url.trim().is_empty() => {
            let admin_url = url::Url::parse(url.trim()).unwrap_or_else(|e| {
                panic!("{TEST_DATABASE_URL}={url:?} is not a postgres:// URL: {e}")
            });
            Server {
                admin_url,
                cluster: false,
            }
        }
        _ => start_cluster().unwrap_or_else(|e| panic!("cannot start a throwaway Postgres: {e}")),
    })
}

/// A database of its own for one test, dropped (with any open connections) when it goes away.
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

static NEXT_DB: AtomicU32 = AtomicU32::new(0);
static STALE_DATABASES_DROPPED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

impl TestDatabase {
    /// Creates an empty database named after `label` (letters, digits and `_`).
    pub async fn create(label: &str) -> TestDatabase {
        let server = server();
        let name = format!(
            "{DB_PREFIX}{}_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed),
            label
        );
        STALE_DATABASES_DROPPED
            .get_or_init(drop_stale_databases)
            .await;
        let admin = admin_client(server).await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        TestDatabase {
            url: server.url_for(&name),
            name,
        }
    }

    /// A fresh connection to this database.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its
        // own runtime does the work and is joined, so the database is gone when drop returns.
        let dropped = std::thread::spawn(move || drop_database_blocking(&name)).join();
        if let Ok(Err(e)) = dropped {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

fn drop_database_blocking(name: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let admin = admin_client(server()).await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .map_err(|e| e.to_string())
    })
}

/// Connects to `url`, driving the connection on the current runtime.
/// Runs one extract invocation against the database at `url` into `store`: the coordinator's
/// connection and the readers' come from that URL, as in the binaries.
pub async fn extract(
    url: &str,
    store: &dyn etl_adapters::ObjectStore,
    options: &extract::ExtractOptions,
) -> Result<extract::ExtractOutcome, extract::ExtractError> {
    let url = etl_adapters::secrets::DatabaseUrl::fixed(url);
    let source = extract::Source {
        url: &url,
        timeout: std::time::Duration::from_secs(10),
    };
    let mut client = source.connect().await?;
    extract::extract(&mut client, &source, store, options).await
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn admin_client(server: &Server) -> tokio_postgres::Client {
    connect(server.admin_url()).await
}

/// Drops databases left behind by test processes that no longer exist (killed mid-run).
pub async fn drop_stale_databases() {
    let admin = admin_client(server()).await;
    let rows = admin
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE $1",
            &[&format!("{DB_PREFIX}%")],
        )
        .await
        .unwrap_or_default();
    for row in rows {
        let name: String = row.get(0);
        let pid = name
            .strip_prefix(DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|pid| pid.parse::<i32>().ok());
        if pid.is_some_and(|pid| pid != std::process::id() as i32 && !process_alive(pid)) {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn start_cluster() -> Result<Server, String> {
    // TLS on, as on any production server, with a certificate of the test CA; authentication
    // stays trust, so roles need no password (tests of passwords use `crate::tls::server`).
    let options = ClusterOptions {
        tls: Some(crate::tls::pki().server_tls().clone()),
        hba: None,
    };
    let cluster = Cluster::start_with(CLUSTER_PREFIX, &options).map_err(|e| e.to_string())?;
    let admin_url = url::Url::parse(&cluster.url("postgres")).map_err(|e| e.to_string())?;
    CLUSTER
        .set(cluster)
        .map_err(|_| "the throwaway cluster was started twice".to_string())?;
    // Statics are never dropped: stop the cluster when the test process exits.
    // SAFETY: the handler only reads a OnceLock and runs a child process.
    unsafe {
        libc::atexit(stop_cluster_at_exit);
    }
    Ok(Server {
        admin_url,
        cluster: true,
    })
}

extern "C" fn stop_cluster_at_exit() {
    if let Some(cluster) = CLUSTER.get() {
        cluster.stop();
    }
}

/// A database outage as its clients see it, for the outage tests: every connection to
/// `databases` is cut mid-statement. On the harness's own cluster the server really restarts
/// (`pg_ctl restart -m fast`, so new connections are refused until it is back); on a given
/// server, whose other users must not notice, the connections are terminated instead.
///
/// Blocking: it is called from fail-point callbacks, which are synchronous.
pub fn outage(databases: &[&str]) {
    if let Some(cluster) = CLUSTER.get() {
        cluster
            .restart()
            .unwrap_or_else(|e| panic!("restarting the test cluster: {e}"));
        return;
    }
    let databases: Vec<String> = databases.iter().map(|d| d.to_string()).collect();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime for the outage: {e}"));
        runtime.block_on(async {
            admin_client(server())
                .await
                .query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = ANY($1) AND pid <> pg_backend_pid()",
                    &[&databases],
                )
                .await
                .unwrap_or_else(|e| panic!("terminating the connections to {databases:?}: {e}"));
        });
    })
    .join()
    .unwrap_or_else(|_| panic!("the outage thread panicked"));
}

/// A login role for one test (e.g. one without `pg_read_all_stats`), dropped with everything it
/// owns or was granted in `database` when it goes away.
#[derive(Debug)]
pub struct TestRole {
    pub name: String,
    /// `database`'s URL, logging in as this role.
    pub url: String,
    database_url: String,
}

impl TestRole {
    pub async fn create(database: &TestDatabase, label: &str) -> TestRole {
        let name = format!("{}_{label}", database.name);
        let admin = admin_client(server()).await;
        admin
            .batch_execute(&format!("CREATE ROLE \"{name}\" LOGIN"))
            .await
            .unwrap_or_else(|e| panic!("creating role {name}: {e}"));
        let mut url = url::Url::parse(&database.url).expect("harness URLs parse");
        let _ = url.set_username(&name);
        let _ = url.set_password(None);
        TestRole {
            url: url.to_string(),
            name,
            database_url: database.url.clone(),
        }
    }
}

impl Drop for TestRole {
    fn drop(&mut self) {
        let (name, database_url) = (self.name.clone(), self.database_url.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&database_url, NoTls).await
                {
                    tokio::spawn(connection);
                    // REASSIGN also hands back what the role owns outside this database (a
                    // database a test made it the owner of), which would block DROP ROLE.
                    let _ = client
                        .batch_execute(&format!(
                            "REASSIGN OWNED BY \"{name}\" TO CURRENT_USER; DROP OWNED BY \"{name}\""
                        ))
                        .await;
                }
                let admin = admin_client(server()).await;
                admin
                    .batch_execute(&format!("DROP ROLE IF EXISTS \"{name}\""))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
    }
}
