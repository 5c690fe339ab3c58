//! The object store on an S3 bucket (and optional key prefix), for the Lambdas and for `etl`
//! pointed at `s3://` locations.
//!
//! The port's conditional writes map onto S3's own: create-if-absent is `If-None-Match: *`,
//! compare-and-swap is `If-Match: <ETag>`; S3 answers `412 Precondition Failed` when the
//! condition does not hold. Objects above [`MULTIPART_THRESHOLD`] go up in parts so a large
//! Parquet file is never one huge request. Tests point the SDK at a local S3-compatible server
//! with the standard `AWS_ENDPOINT_URL`; path-style addressing is used whenever an endpoint is
//! overridden, since such servers rarely resolve bucket subdomains.

use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::{Entry, Object, ObjectStore, PutOutcome, Reader, StoreError, Version, check_key};

/// Objects larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: usize = 16 << 20;
/// Size of each part of a multipart upload (S3's minimum is 5 MiB).
const PART_SIZE: usize = 8 << 20;

#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty, or a prefix without leading or trailing `/`.
    prefix: String,
}

impl S3Store {
    /// A store on `bucket` under `prefix`, with a client built from `sdk` (built once per process:
    /// the client pools connections).
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str, prefix: &str) -> S3Store {
        // Retries are [`super::Retrying`]'s, one policy for every backend; the SDK's own would
        // multiply with them.
        let mut config = aws_sdk_s3::config::Builder::from(sdk)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        if sdk.endpoint_url().is_some() {
            config = config.force_path_style(true);
        }
        S3Store {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The full S3 key of a store key.
    fn full_key(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
        Ok(if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        })
    }

    /// GetObject of a store key; `None` when it does not exist.
    async fn get_object(
        &self,
        key: &str,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, StoreError> {
        let full = self.full_key(key)?;
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(remote(key, &e)),
        }
    }

    fn full_prefix(&self, prefix: &str) -> String {
        match (self.prefix.is_empty(), prefix.is_empty()) {
            (true, _) => prefix.to_owned(),
            (false, true) => format!("{}/", self.prefix),
            (false, false) => format!("{}/{prefix}", self.prefix),
        }
    }

    async fn put_multipart(
        &self,
        key: &str,
        full: &str,
        bytes: Bytes,
    ) -> Result<Version, StoreError> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .send()
            .await
            .map_err(|e| remote(key, &e))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        let result = self.upload_parts(key, full, &upload_id, bytes).await;
        if result.is_err() {
            // Leave no orphaned parts behind (they are billed until aborted).
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &str,
        full: &str,
        upload_id: &str,
        bytes: Bytes,
    ) -> Result<Version, StoreError> {
        let mut parts = Vec::new();
        for (i, start) in (0..bytes.len()).step_by(PART_SIZE).enumerate() {
            let end = (start + PART_SIZE).min(bytes.len());
            // Part numbers are 1-based and at most 10,000; 8 MiB parts cover 78 GiB.
            let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(bytes.slice(start..end)))
                .send()
                .await
                .map_err(|e| remote(key, &e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .build(),
            );
        }
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| remote(key, &e))?;
        Ok(Version(done.e_tag().unwrap_or_default().to_owned()))
    }
}

/// The HTTP status of a failed request, when the service answered.
fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// A failed request as a store error: no answer, throttling and server errors are retryable;
/// other client errors (access denied, no such bucket) are not.
fn remote<E>(key: &str, err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> StoreError
where
    E: std::error::Error + 'static,
{
    let retryable = match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::ServiceError(_) => {
            matches!(status(err), Some(s) if s == 408 || s == 409 || s == 429 || s >= 500)
        }
        _ => true,
    };
    StoreError::Remote {
        key: key.to_owned(),
        message: DisplayErrorContext(err).to_string(),
        retryable,
    }
}

/// Whether a conditional write failed because its condition did not hold.
fn condition_failed<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    matches!(err, SdkError::ServiceError(_)) && status(err) == Some(412)
}

fn version(etag: Option<&str>) -> Version {
    Version(etag.unwrap_or_default().to_owned())
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        let full = self.full_key(key)?;
        if bytes.len() > MULTIPART_THRESHOLD {
            return self.put_multipart(key, &full, bytes).await;
        }
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| remote(key, &e))?;
        Ok(version(out.e_tag()))
    }

    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        let full = self.full_key(key)?;
        match self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .if_none_match("*")
            .body(ByteStream::from(bytes))
            .send()
            .await
        {
            Ok(out) => Ok(PutOutcome::Written(version(out.e_tag()))),
            Err(e) if condition_failed(&e) => Ok(PutOutcome::ConditionFailed),
            Err(e) => Err(remote(key, &e)),
        }
    }

    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        let full = self.full_key(key)?;
        match self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .if_match(&expected.0)
            .body(ByteStream::from(bytes))
            .send()
            .await
        {
            Ok(out) => Ok(PutOutcome::Written(version(out.e_tag()))),
            // A missing object cannot match either (S3 says 404 there).
            Err(e) if condition_failed(&e) || status(&e) == Some(404) => {
                Ok(PutOutcome::ConditionFailed)
            }
            Err(e) => Err(remote(key, &e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let Some(out) = self.get_object(key).await? else {
            return Ok(None);
        };
        let version = version(out.e_tag());
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Remote {
                key: key.to_owned(),
                message: format!("reading the object body: {e}"),
                retryable: true,
            })?
            .into_bytes();
        Ok(Some(Object { bytes, version }))
    }

    async fn open(&self, key: &str) -> Result<Option<(Reader, Version)>, StoreError> {
        Ok(self.get_object(key).await?.map(|out| {
            let version = version(out.e_tag());
            let reader: Reader = Box::pin(out.body.into_async_read());
            (reader, version)
        }))
    }

    async fn list_entries(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let full_prefix = self.full_prefix(prefix);
        let strip = self.full_prefix("");
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full_prefix)
            .into_paginator()
            .send();
        let mut entries = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| remote(prefix, &e))?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| k.strip_prefix(strip.as_str())) else {
                    continue;
                };
                let modified = object
                    .last_modified()
                    .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                    .unwrap_or_default();
                entries.push(Entry {
                    key: key.to_owned(),
                    size: u64::try_from(object.size().unwrap_or(0)).unwrap_or(0),
                    modified,
                    version: version(object.e_tag()),
                });
            }
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_entries(prefix)
            .await?
            .into_iter()
            .map(|entry| entry.key)
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| remote(key, &e))?;
        Ok(())
    }

    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(prefix: &str) -> S3Store {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        S3Store::new(&sdk, "bucket", prefix)
    }

    #[test]
    fn keys_and_prefixes_compose() {
        let s = store("/team/a/");
        assert_eq!(
            s.full_key("manifests/x.json").unwrap(),
            "team/a/manifests/x.json"
        );
        assert_eq!(s.full_prefix("manifests/"), "team/a/manifests/");
        assert_eq!(s.full_prefix(""), "team/a/");
        assert_eq!(s.describe(), "s3://bucket/team/a");
        let root = store("");
        assert_eq!(root.full_key("state/w.json").unwrap(), "state/w.json");
        assert_eq!(root.full_prefix(""), "");
        assert!(root.full_key("../x").is_err());
    }
}
