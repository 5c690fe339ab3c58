//! S3 "object created" notifications: what the transform and load Lambdas receive. Only the
//! Lambda edge reads them: it turns an event into the runs it announces and hands those to the
//! stage's `process`, as `etl run` hands it the pending runs (docs/architecture.md §1).
//!
//! Only the fields the pipeline uses are modelled. Keys arrive URL-encoded (`+` is a space);
//! records for keys outside `manifests/` and the `s3:TestEvent` S3 sends when a notification
//! is configured are ignored.

use serde::{Deserialize, Serialize};

use etl_contract::layout::{MANIFESTS_PREFIX, RunId, run_id_of_manifest_key};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Event {
    #[serde(rename = "Records", default)]
    pub records: Vec<S3Record>,
    /// Present (`s3:TestEvent`) on the test message S3 sends when notifications are set up.
    #[serde(rename = "Event", default, skip_serializing_if = "Option::is_none")]
    pub test_event: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Record {
    #[serde(rename = "eventSource", default)]
    pub event_source: String,
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub s3: S3Entity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Entity {
    pub bucket: S3Bucket,
    pub object: S3Object,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Bucket {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Object {
    pub key: String,
    #[serde(default)]
    pub size: u64,
}

impl S3Event {
    /// The event S3 would send for objects created at `keys` in `bucket`.
    pub fn object_created(bucket: &str, keys: impl IntoIterator<Item = String>) -> S3Event {
        S3Event {
            records: keys
                .into_iter()
                .map(|key| S3Record {
                    event_source: "aws:s3".into(),
                    event_name: "ObjectCreated:Put".into(),
                    s3: S3Entity {
                        bucket: S3Bucket {
                            name: bucket.into(),
                        },
                        object: S3Object {
                            key: encode_key(&key),
                            size: 0,
                        },
                    },
                })
                .collect(),
            test_event: None,
        }
    }

    /// The keys the event says were created, decoded and relative to `prefix` (the store's key
    /// prefix, empty for a bucket root), in the order of its records; keys outside the prefix
    /// and the `s3:TestEvent` give none.
    pub fn created_keys(&self, prefix: &str) -> Vec<String> {
        if self.test_event.is_some() {
            return Vec::new();
        }
        let prefix = prefix.trim_matches('/');
        self.records
            .iter()
            .filter(|record| record.event_name.starts_with("ObjectCreated"))
            .filter_map(|record| {
                let key = decode_key(&record.s3.object.key);
                if prefix.is_empty() {
                    return Some(key);
                }
                key.strip_prefix(prefix)
                    .and_then(|k| k.strip_prefix('/'))
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The runs whose manifests the event announces, in the order of its records, each once.
    /// `prefix` is the store's key prefix (empty for a bucket root).
    pub fn manifest_runs(&self, prefix: &str) -> Vec<RunId> {
        let mut runs: Vec<RunId> = Vec::new();
        for key in self.created_keys(prefix) {
            if !key.starts_with(MANIFESTS_PREFIX) {
                continue;
            }
            if let Some(run) = run_id_of_manifest_key(&key)
                && !runs.contains(&run)
            {
                runs.push(run);
            }
        }
        runs
    }
}

/// An S3 "Object Created" event as EventBridge delivers it: what the lake function receives.
/// The processed bucket's own notification for `manifests/` goes to load, and S3 allows one
/// destination per prefix and event type; EventBridge (enabled on the bucket, one rule per
/// consumer) lets the lake hear the same manifests without touching load's trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectCreated {
    #[serde(rename = "detail-type", default)]
    pub detail_type: String,
    pub detail: S3Entity,
}

impl ObjectCreated {
    /// The event EventBridge would deliver for an object created at `key` in `bucket`.
    pub fn new(bucket: &str, key: &str) -> ObjectCreated {
        ObjectCreated {
            detail_type: "Object Created".into(),
            detail: S3Entity {
                bucket: S3Bucket {
                    name: bucket.into(),
                },
                object: S3Object {
                    key: key.into(),
                    size: 0,
                },
            },
        }
    }

    /// The run whose manifest the event announces, if it announces one under `prefix` (the
    /// store's key prefix). EventBridge gives keys as they are (no URL encoding).
    pub fn manifest_run(&self, prefix: &str) -> Option<RunId> {
        if self.detail_type != "Object Created" {
            return None;
        }
        let notification =
            S3Event::object_created(&self.detail.bucket.name, [self.detail.object.key.clone()]);
        notification.manifest_runs(prefix).pop()
    }
}

/// Decodes an S3 notification key: `%XX` escapes, and `+` for a space.
pub fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&key[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a key the way S3 notifications do.
pub fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eventbridge_event_names_the_run_of_a_manifest_under_the_prefix() {
        let json = r#"{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3",
            "account":"123456789012","time":"2026-12-03T10:00:00Z","region":"eu-west-2",
            "resources":["arn:aws:s3:::processed"],
            "detail":{"version":"0","bucket":{"name":"processed"},
              "object":{"key":"team/manifests/20261203T100000.000000Z-0a1b2c3d.json","size":512,
                "etag":"e","sequencer":"s"},
              "request-id":"r","requester":"a","reason":"PutObject"}}"#;
        let event: ObjectCreated = serde_json::from_str(json).unwrap();
        assert_eq!(
            event.manifest_run("team").map(|r| r.to_string()).as_deref(),
            Some("20261203T100000.000000Z-0a1b2c3d")
        );
        assert_eq!(event.manifest_run("other"), None);
        let part = ObjectCreated::new("processed", "team/parts/x.parquet");
        assert_eq!(part.manifest_run("team"), None);
    }

    #[test]
    fn keys_decode_like_s3_encodes_them() {
        assert_eq!(decode_key("a+b%2Fc%3A"), "a b/c:");
        assert_eq!(decode_key("100%"), "100%");
        assert_eq!(
            decode_key(&encode_key("manifests/x y:1.json")),
            "manifests/x y:1.json"
        );
    }

    #[test]
    fn only_manifest_creations_become_runs() {
        let run = "20261125T081500.123456Z-0a1b2c3d";
        let event = S3Event::object_created(
            "landing",
            [
                format!("team/manifests/{run}.json"),
                format!("team/data/payment/{run}/part-00000.jsonl"),
                format!("team/manifests/{run}.json"),
                format!("other/manifests/{run}.json"),
            ],
        );
        let runs = event.manifest_runs("team/");
        assert_eq!(runs, vec![run.parse::<RunId>().unwrap()]);
        assert_eq!(event.manifest_runs("").len(), 0, "prefix must match");
        let test: S3Event = serde_json::from_str(
            r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-25T08:00:00Z","Bucket":"landing"}"#,
        )
        .unwrap();
        assert!(test.manifest_runs("").is_empty());
    }

    #[test]
    fn a_real_notification_parses() {
        let json = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-2",
          "eventTime":"2026-11-25T08:15:00.000Z","eventName":"ObjectCreated:Put",
          "s3":{"s3SchemaVersion":"1.0","configurationId":"manifests",
                "bucket":{"name":"landing","arn":"arn:aws:s3:::landing"},
                "object":{"key":"manifests/20261125T081500.123456Z-0a1b2c3d.json","size":812,"eTag":"x"}}}]}"#;
        let event: S3Event = serde_json::from_str(json).unwrap();
        assert_eq!(event.manifest_runs("").len(), 1);
    }
}
