//! The extract watermark: the end of the last window extract committed, kept in the landing
//! store at [`WATERMARK_KEY`].
//!
//! It only moves forward, and only by compare-and-swap on the version that was read, so that two
//! extracts started together can never both advance it: the loser sees
//! [`Advance::LostRace`] and stops.

use bytes::Bytes;
use etl_contract::error::{Classify, Disposition};
use etl_contract::layout::WATERMARK_KEY;
use etl_contract::watermark::{Watermark, parse};
use thiserror::Error;

use crate::store::{ObjectStore, PutOutcome, StoreError, Version};

/// The watermark as read, with the version a swap must name.
#[derive(Debug, Clone)]
pub struct Current {
    pub watermark: Option<Watermark>,
    /// `None` when no watermark exists yet.
    pub version: Option<Version>,
}

/// Whether a swap moved the watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    Advanced(Version),
    /// Another run changed the watermark since it was read.
    LostRace,
}

#[derive(Debug, Error)]
pub enum WatermarkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the watermark at {key} is unreadable ({reason}): fix or delete it to re-extract from the beginning"
    )]
    Corrupt { key: String, reason: String },
}

impl Classify for WatermarkError {
    fn disposition(&self) -> Disposition {
        match self {
            WatermarkError::Store(e) => e.disposition(),
            WatermarkError::Corrupt { .. } => Disposition::Fail,
        }
    }
}

/// Reads the watermark.
pub async fn load(store: &dyn ObjectStore) -> Result<Current, WatermarkError> {
    let Some(object) = store.get(WATERMARK_KEY).await? else {
        return Ok(Current {
            watermark: None,
            version: None,
        });
    };
    let watermark = parse(&object.bytes).map_err(|reason| WatermarkError::Corrupt {
        key: WATERMARK_KEY.into(),
        reason,
    })?;
    Ok(Current {
        watermark: Some(watermark),
        version: Some(object.version),
    })
}

/// Replaces the watermark read at `expected` (or creates it when there was none).
pub async fn advance(
    store: &dyn ObjectStore,
    next: &Watermark,
    expected: Option<&Version>,
) -> Result<Advance, WatermarkError> {
    // Serialising plain data cannot fail.
    let bytes = Bytes::from(serde_json::to_vec_pretty(next).unwrap_or_default());
    let outcome = match expected {
        Some(version) => store.put_if_match(WATERMARK_KEY, bytes, version).await?,
        None => store.put_if_absent(WATERMARK_KEY, bytes).await?,
    };
    Ok(match outcome {
        PutOutcome::Written(version) => Advance::Advanced(version),
        PutOutcome::ConditionFailed => Advance::LostRace,
    })
}
