//! The inbox Lambda: one binary, two functions in Terraform.
//!
//! - Invoked by the inbox bucket's notifications, it processes the tables the event's keys name
//!   (`inbox::process`): a new declaration first, then every file of those tables not yet in
//!   the log, in arrival order, so a redelivered or reordered event changes nothing.
//! - Invoked through its function URL (`AWS_IAM` auth), it answers `GET /log?table=T&since=1h`
//!   with the processing log as JSON, over a read-only connection.
//!
//! Which one an invocation is follows from the payload: a function URL request has `rawPath`
//! and `requestContext`, an S3 notification `Records`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use etl_adapters::alert::{self, AlertSink};
use etl_adapters::report::{Failure, alert_and_fail, cold_start_failed};
use etl_adapters::secrets::DatabaseUrl;
use etl_adapters::store::ObjectStore;
use etl_contract::config::{Config, INBOX};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};
use tokio_postgres::Client;

use inbox::report::{STAGE, report};
use inbox::{Outcome, Tables};
use load::LoadError;

use crate::event::S3Event;
use crate::{prefix_of, required_store};

/// What the function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum InboxEvent {
    Http(HttpRequest),
    S3(S3Event),
}

/// A function URL request (payload format 2.0): only what the log endpoint reads.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpRequest {
    #[serde(rename = "rawPath")]
    pub raw_path: String,
    #[serde(rename = "queryStringParameters", default)]
    pub query: Option<HashMap<String, String>>,
    #[serde(rename = "requestContext")]
    pub request_context: RequestContext,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RequestContext {
    pub http: HttpContext,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpContext {
    pub method: String,
}

pub struct Handler {
    config: Config,
    warehouse_url: DatabaseUrl,
    inbox: Box<dyn ObjectStore>,
    inbox_prefix: String,
    alerts: Box<dyn AlertSink>,
    notices: Option<Box<dyn AlertSink>>,
    warehouse: Mutex<Option<Client>>,
    reader: Mutex<Option<Client>>,
}

impl Handler {
    /// The cold start. Fails only on what no retry can fix; an unreachable warehouse is
    /// retried at each invocation.
    pub async fn new(config: Config, sdk: &aws_config::SdkConfig) -> Result<Handler, Failure> {
        let alerts = alert::sink(sdk, config.alert_topic_arn.as_deref());
        let result = async {
            let inbox = required_store(config.inbox.as_ref(), INBOX, sdk)?;
            let warehouse = config.warehouse().map_err(|e| Failure::of(&e))?;
            let url = DatabaseUrl::resolve(warehouse, sdk)
                .await
                .map_err(|e| Failure::of(&e))?;
            Ok::<_, Failure>((inbox, url))
        }
        .await;
        let (inbox, warehouse_url) = match result {
            Ok(parts) => parts,
            Err(failure) => return Err(cold_start_failed(STAGE, alerts.as_ref(), failure).await),
        };
        let notices = config
            .notify_topic_arn
            .as_deref()
            .map(|arn| alert::sink(sdk, Some(arn)));
        Ok(Handler {
            inbox_prefix: prefix_of(config.inbox.as_ref()),
            config,
            warehouse_url,
            inbox,
            alerts,
            notices,
            warehouse: Mutex::new(None),
            reader: Mutex::new(None),
        })
    }

    /// The kept warehouse connection, or a new one with the migrations applied.
    async fn connected(&self) -> Result<MappedMutexGuard<'_, Client>, LoadError> {
        let mut slot = self.warehouse.lock().await;
        let client = match slot.take() {
            Some(client) if !client.is_closed() => client,
            _ => load::connect(&self.warehouse_url, self.config.connect_timeout).await?,
        };
        Ok(MutexGuard::map(slot, |slot| slot.insert(client)))
    }

    /// The kept read-only connection of the log endpoint (no migrations: it only reads).
    async fn reading(&self) -> Result<MappedMutexGuard<'_, Client>, LoadError> {
        let mut slot = self.reader.lock().await;
        let client = match slot.take() {
            Some(client) if !client.is_closed() => client,
            _ => {
                let client = self
                    .warehouse_url
                    .connect("warehouse", "etl-inbox-log", self.config.connect_timeout)
                    .await?;
                client
                    .batch_execute("SET default_transaction_read_only = on")
                    .await
                    .map_err(|source| LoadError::Query {
                        run_id: "-".into(),
                        step: "making the log connection read-only".into(),
                        source,
                    })?;
                client
            }
        };
        Ok(MutexGuard::map(slot, |slot| slot.insert(client)))
    }

    pub async fn handle(&self, event: InboxEvent) -> Result<Value, Failure> {
        match event {
            InboxEvent::Http(request) => Ok(self.log_endpoint(&request).await),
            InboxEvent::S3(event) => self.files(&event).await,
        }
    }

    /// One S3 notification: the tables its keys name.
    async fn files(&self, event: &S3Event) -> Result<Value, Failure> {
        let keys = event.created_keys(&self.inbox_prefix);
        let tables = Tables::of_keys(keys.iter().map(String::as_str));
        if matches!(&tables, Tables::Only(set) if set.is_empty()) {
            return Ok(json!({ "files": [] }));
        }
        let first = keys.first().cloned();
        let alert = |error: inbox::InboxError| {
            let first = first.clone();
            async move { alert_and_fail(STAGE, first, self.alerts.as_ref(), &error).await }
        };
        let mut client = match self.connected().await {
            Ok(client) => client,
            Err(error) => return Err(alert(inbox::InboxError::from(error)).await),
        };
        let results = match inbox::process(&mut client, self.inbox.as_ref(), &tables).await {
            Ok(results) => results,
            Err(error) => return Err(alert(error).await),
        };
        report(
            &client,
            &self.inbox.describe(),
            &results,
            self.alerts.as_ref(),
            self.notices.as_deref(),
        )
        .await?;
        let files: Vec<Value> = results
            .iter()
            .map(|r| {
                let (status, rows, rejected) = match &r.result {
                    Ok(Outcome::Loaded(l)) => ("loaded", l.rows, l.rejected),
                    Ok(Outcome::Declared(_)) => ("applied", 0, 0),
                    Ok(Outcome::Waiting) => ("waiting", 0, 0),
                    Ok(Outcome::RejectedBefore { .. }) | Err(_) => ("rejected", 0, 0),
                };
                json!({"file": r.file, "table": r.table, "action": r.action, "status": status,
                       "rows": rows, "rejected": rejected})
            })
            .collect();
        Ok(json!({ "files": files }))
    }

    /// `GET /log?table=T&since=...`: the function URL's answer (status, headers, JSON body).
    async fn log_endpoint(&self, request: &HttpRequest) -> Value {
        let answer = |status: u16, body: Value| {
            json!({
                "statusCode": status,
                "headers": {"content-type": "application/json"},
                "body": body.to_string(),
            })
        };
        if request.raw_path.trim_end_matches('/') != "/log" {
            return answer(404, json!({"error": "not found: the endpoint is GET /log"}));
        }
        if request.request_context.http.method != "GET" {
            return answer(405, json!({"error": "only GET is allowed"}));
        }
        let query = request.query.clone().unwrap_or_default();
        let since = match query.get("since").map(|s| since(s, Utc::now())) {
            None => Utc::now() - chrono::Duration::hours(24),
            Some(Ok(since)) => since,
            Some(Err(reason)) => return answer(400, json!({"error": reason})),
        };
        let table = query.get("table").map(String::as_str);
        let client = match self.reading().await {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "log endpoint: warehouse unavailable");
                return answer(
                    503,
                    json!({"error": "the warehouse is unavailable; try again"}),
                );
            }
        };
        match inbox::log::entries(&*client, table, since).await {
            Ok(entries) => answer(
                200,
                json!({"since": since, "table": table, "entries": entries}),
            ),
            Err(error) => {
                tracing::error!(%error, "log endpoint: reading the log failed");
                answer(503, json!({"error": "reading the log failed; try again"}))
            }
        }
    }
}

/// `since` as a duration back from `now` (`1h`, `7d`) or an RFC 3339 instant.
pub fn since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let back: Duration = humantime::parse_duration(text).map_err(|_| {
        "since: a duration (30m, 1h, 7d) or an RFC 3339 time (2026-12-01T00:00:00Z)".to_owned()
    })?;
    chrono::Duration::from_std(back)
        .ok()
        .and_then(|back| now.checked_sub_signed(back))
        .ok_or_else(|| "since: too far back".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_told_apart() {
        let http: InboxEvent = serde_json::from_str(
            r#"{"version": "2.0", "rawPath": "/log", "rawQueryString": "table=t",
                "queryStringParameters": {"table": "t"},
                "requestContext": {"http": {"method": "GET", "path": "/log"}}}"#,
        )
        .unwrap();
        assert!(matches!(http, InboxEvent::Http(r) if r.raw_path == "/log"));
        let s3: InboxEvent = serde_json::from_str(r#"{"Records": []}"#).unwrap();
        assert!(matches!(s3, InboxEvent::S3(_)));
    }

    #[test]
    fn since_reads_durations_and_instants() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            since("1h", now).unwrap().to_rfc3339(),
            "2026-12-02T11:00:00+00:00"
        );
        assert_eq!(
            since("2026-12-01T00:00:00Z", now).unwrap().to_rfc3339(),
            "2026-12-01T00:00:00+00:00"
        );
        assert!(since("yesterday", now).is_err());
    }
}
