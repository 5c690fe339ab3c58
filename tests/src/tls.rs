//! Servers with certificates of the tests' own making, for the TLS and credential tests.
//!
//! A test CA is made once per test process and signs a server certificate for `localhost` and
//! 127.0.0.1; a second CA that signed nothing stands for "the wrong CA", and a self-signed
//! certificate for the same names stands for a server that made its own. Each server is a
//! throwaway cluster of its own (so these tests run whether or not `ETL_TEST_DATABASE_URL`
//! is set), serving TLS only: `postgres` is trusted over TLS, every other role must give its
//! password (SCRAM), and clear-text connections are rejected.

use std::path::PathBuf;
use std::sync::OnceLock;

use etl_devtools::pgcluster::{Cluster, ClusterOptions, ServerTls};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// The harness's certificates, written to a directory that lives as long as the process.
#[derive(Debug)]
pub struct TestPki {
    /// The CA that signed the server certificate.
    pub ca: PathBuf,
    /// A CA that signed nothing the servers present.
    pub other_ca: PathBuf,
    server: ServerTls,
    self_signed: ServerTls,
    _dir: tempfile::TempDir,
}

/// The names the server certificates are for.
pub const CERT_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no names to parse");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().expect("generating a CA key");
    let pem = params.self_signed(&key).expect("self-signing a CA").pem();
    (params, key, pem)
}

fn server_params() -> CertificateParams {
    let mut params = CertificateParams::new(CERT_NAMES.map(String::from).to_vec())
        .expect("the certificate names parse");
    params
        .distinguished_name
        .push(DnType::CommonName, "etl test server");
    params
}

/// The process's test PKI, made on first use.
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a directory for the test PKI");
        let (ca_params, ca_key, ca_pem) = ca("etl test CA");
        let (_, _, other_pem) = ca("etl test CA that signed nothing");
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().expect("generating a server key");
        let server_cert = server_params()
            .signed_by(&server_key, &issuer)
            .expect("signing the server certificate");
        let own_key = KeyPair::generate().expect("generating a server key");
        let own_cert = server_params()
            .self_signed(&own_key)
            .expect("self-signing a server certificate");
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("writing a test certificate");
            path
        };
        TestPki {
            ca: write("ca.pem", &ca_pem),
            other_ca: write("other-ca.pem", &other_pem),
            server: ServerTls {
                cert_pem: server_cert.pem(),
                key_pem: server_key.serialize_pem(),
            },
            self_signed: ServerTls {
                cert_pem: own_cert.pem(),
                key_pem: own_key.serialize_pem(),
            },
            _dir: dir,
        }
    })
}

impl TestPki {
    /// The CA-signed certificate and key, for [`CERT_NAMES`].
    pub fn server_tls(&self) -> &ServerTls {
        &self.server
    }
}

/// Which certificate a TLS test server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presents {
    /// One the test CA signed, for [`CERT_NAMES`].
    CaSigned,
    /// One it signed itself, for the same names.
    SelfSigned,
}

/// Only TLS; `postgres` without a password, everyone else with theirs.
const HBA: &str = "local all all trust\n\
                   hostssl all postgres 127.0.0.1/32 trust\n\
                   hostssl all all 127.0.0.1/32 scram-sha-256\n\
                   host all all 0.0.0.0/0 reject\n";

static CA_SIGNED: OnceLock<Cluster> = OnceLock::new();
static SELF_SIGNED: OnceLock<Cluster> = OnceLock::new();

/// A running TLS-only server presenting `presents`, started on first use and stopped when
/// the process exits.
pub fn server(presents: Presents) -> &'static Cluster {
    let (slot, tls, prefix, stop): (_, _, _, extern "C" fn()) = match presents {
        Presents::CaSigned => (
            &CA_SIGNED,
            &pki().server,
            "etl-test-tls-pg-",
            stop_ca_signed,
        ),
        Presents::SelfSigned => (
            &SELF_SIGNED,
            &pki().self_signed,
            "etl-test-own-pg-",
            stop_self_signed,
        ),
    };
    slot.get_or_init(|| {
        let options = ClusterOptions {
            tls: Some(tls.clone()),
            hba: Some(HBA.into()),
        };
        let cluster = Cluster::start_with(prefix, &options)
            .unwrap_or_else(|e| panic!("cannot start a TLS test server: {e}"));
        // Statics are never dropped: stop the cluster when the test process exits.
        // SAFETY: the handler only reads a OnceLock and runs a child process.
        unsafe {
            libc::atexit(stop);
        }
        cluster
    })
}

extern "C" fn stop_ca_signed() {
    if let Some(cluster) = CA_SIGNED.get() {
        cluster.stop();
    }
}

extern "C" fn stop_self_signed() {
    if let Some(cluster) = SELF_SIGNED.get() {
        cluster.stop();
    }
}

/// `database` on a TLS test server at `host` (a name or address), as `user`, with extra
/// connection parameters.
pub fn url(cluster: &Cluster, host: &str, user: &str, database: &str, params: &str) -> String {
    format!(
        "postgres://{user}@{host}:{}/{database}?{params}",
        cluster.port()
    )
}
