//! A throwaway PostgreSQL cluster: `initdb` + `pg_ctl` on a free loopback port.
//!
//! Used by `etl demo` (a pipeline on a fresh machine with nothing configured) and by the test
//! harness. Binaries are found on PATH or under `/usr/lib/postgresql/*/bin`. initdb and postgres
//! refuse to run as root, so as root they run as the `postgres` system user via `runuser`, with the
//! data directory, socket directory and log owned by it. Durability is off (`fsync=off`): the
//! cluster is deleted when it stops.

use std::path::{Path, PathBuf};
use std::process::Command;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error(
        "`{0}` was not found on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL \
         (e.g. `apt-get install postgresql`) or give the URL of an existing server"
    )]
    MissingBinary(&'static str),
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
}

/// How a cluster differs from the default (trust for every local connection, no TLS).
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Serve TLS with this certificate chain and key (PEM).
    pub tls: Option<ServerTls>,
    /// The whole `pg_hba.conf`, replacing initdb's (trust everything).
    pub hba: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A running throwaway cluster. Stopped and deleted by [`Cluster::stop`] or on drop.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    data: PathBuf,
    pg_ctl: PathBuf,
    port: u16,
}

impl Cluster {
    /// Initialises and starts a cluster in `<temp>/<prefix><pid>`, first removing clusters with the
    /// same prefix whose owning process is gone.
    pub fn start(prefix: &str) -> Result<Cluster, ClusterError> {
        Cluster::start_with(prefix, &ClusterOptions::default())
    }

    /// [`Cluster::start`], with TLS or client authentication set by `options`.
    pub fn start_with(prefix: &str, options: &ClusterOptions) -> Result<Cluster, ClusterError> {
        let initdb = pg_binary("initdb")?;
        let pg_ctl = pg_binary("pg_ctl")?;
        remove_stale(prefix, &pg_ctl);

        let dir = std::env::temp_dir().join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| ClusterError::Command {
            what: format!("creating {}", dir.display()),
            detail: e.to_string(),
        })?;
        if is_root() {
            let mut chown = Command::new("chown");
            chown.args(["-R", "postgres:postgres"]).arg(&dir);
            run(chown, "chown of the cluster directory to postgres")?;
        }
        let data = dir.join("data");
        let mut init = pg_command(&initdb);
        init.args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data);
        run(init, "initdb")?;
        let mut extra = String::new();
        if let Some(hba) = &options.hba {
            write_owned(&data.join("pg_hba.conf"), hba)?;
        }
        if let Some(tls) = &options.tls {
            let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
            write_owned(&cert, &tls.cert_pem)?;
            write_owned(&key, &tls.key_pem)?;
            extra = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            );
        }

        // A port can be taken between choosing and binding it; try a few.
        let mut last_error = None;
        for _ in 0..5 {
            let port = free_port()?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
                 -c shared_buffers=128MB{extra}",
                dir.display()
            );
            let mut start = pg_command(&pg_ctl);
            start
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(&data)
                .arg("-l")
                .arg(dir.join("postgres.log"))
                .args(["-o", &options]);
            match run(start, "pg_ctl start") {
                Ok(()) => {
                    return Ok(Cluster {
                        dir,
                        data,
                        pg_ctl,
                        port,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or(ClusterError::Command {
            what: "pg_ctl start".into(),
            detail: "no attempt was made".into(),
        }))
    }

    /// URL of database `name` as the `postgres` superuser.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Restarts the server (for outage tests); clients see their connections dropped.
    pub fn restart(&self) -> Result<(), ClusterError> {
        let mut restart = pg_command(&self.pg_ctl);
        // With its log file, as at start: otherwise the new server inherits pg_ctl's output
        // pipe and `output()` waits for it to exit.
        restart
            .args(["restart", "-m", "fast", "-w", "-t", "60", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.join("postgres.log"));
        run(restart, "pg_ctl restart")
    }

    /// Stops the server immediately and deletes the cluster. Safe to call more than once.
    pub fn stop(&self) {
        stop_at(&self.pg_ctl, &self.data, &self.dir);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn stop_at(pg_ctl: &Path, data: &Path, dir: &Path) {
    if data.exists() {
        let mut stop = pg_command(pg_ctl);
        stop.args(["stop", "-m", "immediate", "-w", "-D"]).arg(data);
        let _ = stop.output();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Stops and deletes clusters named `<prefix><pid>` whose owning process is gone.
fn remove_stale(prefix: &str, pg_ctl: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() as i32 && !process_alive(pid) {
            let dir = entry.path();
            stop_at(pg_ctl, &dir.join("data"), &dir);
        }
    }
}

/// Whether a process with this id exists.
pub fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists; it delivers nothing.
    let alive = unsafe { libc::kill(pid, 0) == 0 };
    alive || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Finds a Postgres server binary: on PATH first, then the newest /usr/lib/postgresql/*/bin.
fn pg_binary(name: &'static str) -> Result<PathBuf, ClusterError> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if let Some(found) = on_path {
        return Ok(found);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin").join(name);
            bin.is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or(ClusterError::MissingBinary(name))
}

/// Writes a file the server reads: owned by the server's user, readable by it alone (the
/// server refuses a key file others can read).
fn write_owned(path: &Path, contents: &str) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |e: std::io::Error| ClusterError::Command {
        what: format!("writing {}", path.display()),
        detail: e.to_string(),
    };
    std::fs::write(path, contents).map_err(failed)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    if is_root() {
        let mut chown = Command::new("chown");
        chown.arg("postgres:postgres").arg(path);
        run(chown, "chown of a cluster file to postgres")?;
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command running a Postgres binary, as the `postgres` system user when we are root.
fn pg_command(binary: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(binary);
        cmd
    } else {
        Command::new(binary)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), ClusterError> {
    let out = cmd.output().map_err(|e| ClusterError::Command {
        what: what.to_owned(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(());
    }
    Err(ClusterError::Command {
        what: what.to_owned(),
        detail: format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    })
}

fn free_port() -> Result<u16, ClusterError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| ClusterError::Command {
            what: "finding a free loopback port".into(),
            detail: e.to_string(),
        })
}
