//! A Lambda Runtime API emulator (for `etl bench` and the tests): the HTTP interface a `provided.al2023` function polls for
//! events, served on loopback so a real Lambda binary can be run and fed fixture events.
//!
//! It implements the four calls a runtime makes (`invocation/next`, `invocation/{id}/response`,
//! `invocation/{id}/error`, `init/error`) over HTTP/1.1 with keep-alive, and records when the
//! binary first asked for an event: the moment it became ready, which is its cold start.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why the emulator could not get what it waited for.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("the Runtime API emulator could not listen on loopback: {0}")]
    Listen(#[source] std::io::Error),
    #[error("cannot start the {function} binary at {binary}: {source}")]
    Spawn {
        function: String,
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the function exited ({status}): {stderr}")]
    Exited { status: String, stderr: String },
    #[error("the function did not answer within {0:?}")]
    Timeout(Duration),
    #[error("expected {expected}, got {got}")]
    Unexpected { expected: &'static str, got: String },
}

/// What the function answered for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(serde_json::Value),
    /// The diagnostic: `errorType` and `errorMessage`.
    Error {
        error_type: String,
        message: String,
    },
    /// The function failed before it could take an event.
    InitError {
        error_type: String,
        message: String,
    },
}

/// Something the emulator saw, in order.
#[derive(Debug)]
enum Seen {
    FirstPoll(Instant),
    Outcome(Outcome),
}

struct Shared {
    events: Mutex<VecDeque<(String, String)>>,
    queued: Condvar,
    seen: Mutex<Sender<Seen>>,
    polled: Mutex<bool>,
}

/// A running emulator with a queue of events to hand out.
pub struct RuntimeApi {
    pub port: u16,
    shared: Arc<Shared>,
    seen: Receiver<Seen>,
    next_id: u64,
}

impl RuntimeApi {
    pub fn start() -> Result<RuntimeApi, EmulatorError> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(EmulatorError::Listen)?;
        let port = listener.local_addr().map_err(EmulatorError::Listen)?.port();
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(VecDeque::new()),
            queued: Condvar::new(),
            seen: Mutex::new(tx),
            polled: Mutex::new(false),
        });
        let server = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = server.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Ok(RuntimeApi {
            port,
            shared,
            seen: rx,
            next_id: 0,
        })
    }

    /// Queues an event (its JSON text) for the function.
    pub fn push(&mut self, event: &str) {
        self.next_id += 1;
        let id = format!("req-{:04}", self.next_id);
        self.shared
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((id, event.to_owned()));
        self.shared.queued.notify_all();
    }

    /// Starts `binary` as Lambda would, with `env` on top of the runtime's own variables.
    pub fn spawn(
        &self,
        binary: &str,
        function: &str,
        env: &[(&str, String)],
    ) -> Result<Function, EmulatorError> {
        let started = Instant::now();
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", self.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{function}"),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]emulator")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().map_err(|source| EmulatorError::Spawn {
            function: function.to_owned(),
            binary: binary.to_owned(),
            source,
        })?;
        Ok(Function { child, started })
    }

    /// Waits (at most `limit`) for the function's first poll; returns the time since `spawn`.
    pub fn ready(
        &self,
        function: &mut Function,
        limit: Duration,
    ) -> Result<Duration, EmulatorError> {
        match self.wait(function, limit)? {
            Seen::FirstPoll(at) => Ok(at - function.started),
            Seen::Outcome(outcome) => Err(EmulatorError::Unexpected {
                expected: "the first poll",
                got: format!("{outcome:?}"),
            }),
        }
    }

    /// Waits (at most `limit`) for the function's answer to the next event.
    pub fn outcome(
        &self,
        function: &mut Function,
        limit: Duration,
    ) -> Result<Outcome, EmulatorError> {
        match self.wait(function, limit)? {
            Seen::Outcome(outcome) => Ok(outcome),
            Seen::FirstPoll(_) => Err(EmulatorError::Unexpected {
                expected: "an outcome",
                got: "the first poll".into(),
            }),
        }
    }

    /// The next thing seen, waiting on the emulator's channel in short slices so that a
    /// function that exits is reported at once rather than at the limit.
    fn wait(&self, function: &mut Function, limit: Duration) -> Result<Seen, EmulatorError> {
        let deadline = Instant::now() + limit;
        loop {
            match self.seen.recv_timeout(Duration::from_millis(100)) {
                Ok(seen) => return Ok(seen),
                Err(_) => {
                    if let Ok(Some(status)) = function.child.try_wait() {
                        return Err(EmulatorError::Exited {
                            status: status.to_string(),
                            stderr: function.stderr(),
                        });
                    }
                    if Instant::now() >= deadline {
                        return Err(EmulatorError::Timeout(limit));
                    }
                }
            }
        }
    }
}

/// A running Lambda binary, killed when dropped.
pub struct Function {
    child: Child,
    started: Instant,
}

impl Function {
    /// The process's peak resident memory so far, KiB ([`crate::usage::peak_rss_kb`]).
    pub fn peak_rss_kb(&self) -> Option<u64> {
        crate::usage::peak_rss_kb(&self.child.id().to_string())
    }

    /// What the function wrote on stderr (only once it has exited).
    pub fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let reply = match (method, path) {
            ("GET", "/2018-06-01/runtime/invocation/next") => next_event(shared),
            ("POST", p) if p.ends_with("/response") => {
                let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                record(shared, Seen::Outcome(Outcome::Response(value)));
                accepted()
            }
            ("POST", p) if p.ends_with("/error") => {
                let (error_type, message) = diagnostic(&body);
                let outcome = if p.contains("/init/") {
                    Outcome::InitError {
                        error_type,
                        message,
                    }
                } else {
                    Outcome::Error {
                        error_type,
                        message,
                    }
                };
                record(shared, Seen::Outcome(outcome));
                accepted()
            }
            _ => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned(),
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn record(shared: &Shared, seen: Seen) {
    let _ = shared
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(seen);
}

fn accepted() -> String {
    "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"status\":\"OK\"}\n"
        .to_owned()
}

fn diagnostic(body: &[u8]) -> (String, String) {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |k: &str| value[k].as_str().unwrap_or_default().to_owned();
    (text("errorType"), text("errorMessage"))
}

/// Hands out the next queued event; with none left, holds the poll open (as Lambda does
/// between invocations) until the function is killed.
fn next_event(shared: &Shared) -> String {
    {
        let mut polled = shared.polled.lock().unwrap_or_else(|e| e.into_inner());
        if !*polled {
            *polled = true;
            record(shared, Seen::FirstPoll(Instant::now()));
        }
    }
    let mut events = shared.events.lock().unwrap_or_else(|e| e.into_inner());
    let (id, event) = loop {
        if let Some(next) = events.pop_front() {
            break next;
        }
        events = shared
            .queued
            .wait(events)
            .unwrap_or_else(|e| e.into_inner());
    };
    drop(events);
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() + 300_000)
        .unwrap_or(0);
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
         lambda-runtime-aws-request-id: {id}\r\n\
         lambda-runtime-deadline-ms: {deadline_ms}\r\n\
         lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:emulated\r\n\
         lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
         content-length: {}\r\n\r\n{event}",
        event.len()
    )
}
