//! Hand-made pipeline inputs, for the tests of bad and hostile input: a landing run written
//! the way extract writes one, which a test then spoils in one precise way.

use std::collections::BTreeMap;

use bytes::Bytes;
use etl_adapters::store::ObjectStore;
use etl_contract::landing::{PART_SUFFIX, PLAIN_PART_SUFFIX, encode_part};
use etl_contract::layout::{RunId, landing_part_key, manifest_key};
use etl_contract::manifest::{MANIFEST_FORMAT, Manifest, Part, Stage, TableFiles, Window};

/// Writes a landing run of one table: `lines` as one part, with a manifest whose checksums
/// match unless the caller alters things afterwards.
pub async fn landing_run(
    store: &dyn ObjectStore,
    table: &str,
    lines: &[String],
) -> (RunId, Manifest) {
    landing_run_of_format(store, table, lines, MANIFEST_FORMAT).await
}

/// A landing run as builds of manifest format 1 wrote them: the part plain NDJSON, named
/// `part-00000.jsonl`.
pub async fn format1_landing_run(
    store: &dyn ObjectStore,
    table: &str,
    lines: &[String],
) -> (RunId, Manifest) {
    landing_run_of_format(store, table, lines, 1).await
}

async fn landing_run_of_format(
    store: &dyn ObjectStore,
    table: &str,
    lines: &[String],
    format: u32,
) -> (RunId, Manifest) {
    let run_id = RunId::new(chrono::Utc::now());
    let key = landing_part_key(table, &run_id, 0);
    let (key, body): (String, Vec<u8>) = if format == 1 {
        let plain = lines.iter().flat_map(|l| format!("{l}\n").into_bytes());
        (key.replace(PART_SUFFIX, PLAIN_PART_SUFFIX), plain.collect())
    } else {
        (
            key,
            encode_part(lines.iter().map(|l| l.as_bytes())).unwrap(),
        )
    };
    store
        .put(&key, Bytes::from(body.clone()))
        .await
        .unwrap_or_else(|e| panic!("writing {key}: {e}"));
    let mut tables = BTreeMap::new();
    tables.insert(
        table.to_string(),
        TableFiles {
            rows: lines.len() as u64,
            parts: vec![Part::describe(key, lines.len() as u64, &body)],
        },
    );
    let manifest = Manifest {
        format,
        run_id: run_id.clone(),
        stage: Stage::Extract,
        created_at: chrono::Utc::now(),
        window: Window {
            from_tie: None,
            to_tie: None,
            from: None,
            keys: None,
            to: chrono::Utc::now(),
        },
        tables,
        extract: None,
        source: None,
    };
    put_manifest(store, &manifest).await;
    (run_id, manifest)
}

/// Changes one byte in the middle of the file at `key`: a file edited after its manifest was
/// written, its size the same, so that only its checksum can tell.
pub async fn edit_in_place(store: &dyn ObjectStore, key: &str) {
    let mut bytes = store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("reading {key}: {e}"))
        .unwrap_or_else(|| panic!("{key} is missing"))
        .bytes
        .to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    store
        .put(key, Bytes::from(bytes))
        .await
        .unwrap_or_else(|e| panic!("writing {key}: {e}"));
}

/// (Re)writes `manifest` under its run's manifest key.
pub async fn put_manifest(store: &dyn ObjectStore, manifest: &Manifest) {
    let key = manifest_key(&manifest.run_id);
    store
        .put(&key, manifest.to_json().into())
        .await
        .unwrap_or_else(|e| panic!("writing {key}: {e}"));
}

/// A landing line of `design` with id `id`.
pub fn design_line(id: i32) -> String {
    format!(
        r#"{{"design_id":{id},"created_at":"2024-01-01T09:00:00.000000Z","design_name":"Steel","file_location":"/usr","file_name":"steel-20240101-abcd.json","last_updated":"2024-01-01T09:00:00.000000Z"}}"#
    )
}

/// A landing line of `department` (a table transform keeps a snapshot of) with id `id`.
pub fn department_line(id: i32) -> String {
    format!(
        r#"{{"department_id":{id},"department_name":"Sales","location":"Leeds","manager":"Ada","created_at":"2024-01-01T09:00:00.000000Z","last_updated":"2024-01-01T09:00:00.000000Z"}}"#
    )
}

/// A landing line of `payment` with id `id`.
pub fn payment_line(id: i32, payment_date: &str, amount: &str) -> String {
    format!(
        r#"{{"payment_id":{id},"created_at":"2024-01-01T09:00:00.000000Z","last_updated":"2024-01-01T09:00:00.000000Z","transaction_id":{id},"counterparty_id":1,"payment_amount":"{amount}","currency_id":1,"payment_type_id":1,"paid":false,"payment_date":"{payment_date}","company_ac_number":12345678,"counterparty_ac_number":87654321}}"#
    )
}
