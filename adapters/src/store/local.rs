//! The object store on a local directory, for `etl` runs and tests.
//!
//! Writes go to a temporary file in the same directory and are renamed into place, so a reader
//! never sees a partial object. Conditional writes hold an exclusive lock on a store-wide lock
//! file while they check and rename, so they are atomic across processes too. A version is the
//! identity of the file (inode, modification time, size): every write installs a new file, so
//! rewriting identical content still changes the version and a stale swap cannot succeed (no ABA).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use std::os::unix::fs::MetadataExt;

use super::{Entry, Object, ObjectStore, PutOutcome, Reader, StoreError, Version, check_key};

/// Name of the lock file kept beside conditionally written objects.
const LOCK_FILE: &str = ".lock";
/// Prefix of in-flight temporary files; never listed.
const TEMP_PREFIX: &str = ".tmp-";

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root`, created if missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|source| StoreError::Io {
            key: root.display().to_string(),
            source,
        })?;
        Ok(LocalStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file behind `key`, refusing keys that could escape the root.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }
}

fn version_of(metadata: &fs::Metadata) -> Version {
    Version(format!(
        "{:x}-{:x}.{:09}-{:x}",
        metadata.ino(),
        metadata.mtime(),
        metadata.mtime_nsec(),
        metadata.size()
    ))
}

/// The version of the file at `path`, `None` if there is none.
fn current_version(path: &Path, key: &str) -> Result<Option<Version>, StoreError> {
    match fs::metadata(path) {
        Ok(metadata) => Ok(Some(version_of(&metadata))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(key)(e)),
    }
}

fn io(key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        key: key.to_owned(),
        source,
    }
}

/// Writes `bytes` to a fresh temporary file beside `path`, syncs it, and returns it with the
/// version it will have once renamed into place (a rename keeps the inode and times).
fn write_temp(path: &Path, bytes: &[u8], key: &str) -> Result<(PathBuf, Version), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(key))?;
    let temp = dir.join(format!(
        "{TEMP_PREFIX}{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut file = File::create(&temp).map_err(io(key))?;
    file.write_all(bytes).map_err(io(key))?;
    file.sync_all().map_err(io(key))?;
    let version = version_of(&file.metadata().map_err(io(key))?);
    Ok((temp, version))
}

/// Holds the store-wide lock for a conditional write.
fn lock(root: &Path, key: &str) -> Result<File, StoreError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(LOCK_FILE))
        .map_err(io(key))?;
    file.lock().map_err(io(key))?;
    Ok(file)
}

/// The files under `prefix` with their metadata, sorted by key; temporary and lock files are
/// not objects.
fn walk(root: &Path, prefix: &str) -> Result<Vec<(String, fs::Metadata)>, StoreError> {
    let mut found = Vec::new();
    // Walk only the directory the prefix points into, not the whole store.
    let start = match prefix.rfind('/') {
        Some(i) => root.join(&prefix[..i]),
        None => root.to_path_buf(),
    };
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(prefix)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(prefix))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) || name == LOCK_FILE {
                continue;
            }
            if entry.file_type().map_err(io(prefix))?.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let key = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if key.starts_with(prefix) {
                // A file removed between the listing and this look is simply not listed.
                match entry.metadata() {
                    Ok(metadata) => found.push((key, metadata)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io(prefix)(e)),
                }
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// Runs blocking filesystem work off the async threads.
async fn blocking<T: Send + 'static>(
    key: &str,
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Io {
            key: key.to_owned(),
            source: std::io::Error::other(e),
        })?
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<Version, StoreError> {
        let path = self.path_of(key)?;
        let owned_key = key.to_owned();
        blocking(key, move || {
            let (temp, version) = write_temp(&path, &bytes, &owned_key)?;
            fs::rename(&temp, &path).map_err(io(&owned_key))?;
            Ok(version)
        })
        .await
    }

    async fn put_if_absent(&self, key: &str, bytes: Bytes) -> Result<PutOutcome, StoreError> {
        let path = self.path_of(key)?;
        let owned_key = key.to_owned();
        blocking(key, move || {
            let (temp, _) = write_temp(&path, &bytes, &owned_key)?;
            // A hard link fails if the target exists: create-if-absent in one atomic step.
            let linked = fs::hard_link(&temp, &path);
            let _ = fs::remove_file(&temp);
            match linked {
                // Linking changed the link count, not the version's fields; read it back.
                Ok(()) => Ok(match current_version(&path, &owned_key)? {
                    Some(version) => PutOutcome::Written(version),
                    None => PutOutcome::ConditionFailed,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    Ok(PutOutcome::ConditionFailed)
                }
                Err(e) => Err(io(&owned_key)(e)),
            }
        })
        .await
    }

    async fn put_if_match(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Version,
    ) -> Result<PutOutcome, StoreError> {
        let path = self.path_of(key)?;
        let root = self.root.clone();
        let owned_key = key.to_owned();
        let expected = expected.clone();
        blocking(key, move || {
            let (temp, version) = write_temp(&path, &bytes, &owned_key)?;
            let _guard = lock(&root, &owned_key)?;
            if current_version(&path, &owned_key)?.as_ref() != Some(&expected) {
                let _ = fs::remove_file(&temp);
                return Ok(PutOutcome::ConditionFailed);
            }
            fs::rename(&temp, &path).map_err(io(&owned_key))?;
            Ok(PutOutcome::Written(version))
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StoreError> {
        let path = self.path_of(key)?;
        let owned_key = key.to_owned();
        blocking(key, move || {
            let mut file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io(&owned_key)(e)),
            };
            // Version and bytes from the same open file, so they always agree.
            let version = version_of(&file.metadata().map_err(io(&owned_key))?);
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io(&owned_key))?;
            Ok(Some(Object {
                bytes: Bytes::from(bytes),
                version,
            }))
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        blocking(&prefix.clone(), move || {
            Ok(walk(&root, &prefix)?
                .into_iter()
                .map(|(key, _)| key)
                .collect())
        })
        .await
    }

    async fn open(&self, key: &str) -> Result<Option<(Reader, Version)>, StoreError> {
        let path = self.path_of(key)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(key)(e)),
        };
        // The version of the open file: a rename over the key later does not change what is read.
        let version = version_of(&file.metadata().await.map_err(io(key))?);
        Ok(Some((Box::pin(file), version)))
    }

    async fn list_entries(&self, prefix: &str) -> Result<Vec<Entry>, StoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        blocking(&prefix.clone(), move || {
            Ok(walk(&root, &prefix)?
                .into_iter()
                .map(|(key, metadata)| Entry {
                    key,
                    size: metadata.size(),
                    modified: chrono::DateTime::from_timestamp(
                        metadata.mtime(),
                        u32::try_from(metadata.mtime_nsec()).unwrap_or(0),
                    )
                    .unwrap_or_default(),
                    version: version_of(&metadata),
                })
                .collect())
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        let owned_key = key.to_owned();
        blocking(key, move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&owned_key)(e)),
        })
        .await
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn put_get_list_delete() {
        let (_dir, s) = store();
        s.put("data/a/1.jsonl", Bytes::from_static(b"one"))
            .await
            .unwrap();
        s.put("data/b/2.jsonl", Bytes::from_static(b"two"))
            .await
            .unwrap();
        s.put("manifests/x.json", Bytes::from_static(b"{}"))
            .await
            .unwrap();
        assert_eq!(
            s.list("data/").await.unwrap(),
            ["data/a/1.jsonl", "data/b/2.jsonl"]
        );
        assert_eq!(s.list("data/a").await.unwrap(), ["data/a/1.jsonl"]);
        assert_eq!(s.list("nothing/").await.unwrap(), Vec::<String>::new());
        let got = s.get("data/a/1.jsonl").await.unwrap().unwrap();
        assert_eq!(&got.bytes[..], b"one");
        s.delete("data/a/1.jsonl").await.unwrap();
        s.delete("data/a/1.jsonl").await.unwrap();
        assert!(s.get("data/a/1.jsonl").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn create_if_absent_writes_once() {
        let (_dir, s) = store();
        let first = s
            .put_if_absent("m.json", Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert!(matches!(first, PutOutcome::Written(_)));
        let second = s
            .put_if_absent("m.json", Bytes::from_static(b"2"))
            .await
            .unwrap();
        assert_eq!(second, PutOutcome::ConditionFailed);
        assert_eq!(&s.get("m.json").await.unwrap().unwrap().bytes[..], b"1");
    }

    #[tokio::test]
    async fn swap_succeeds_only_on_the_version_read() {
        let (_dir, s) = store();
        let v1 = s.put("w.json", Bytes::from_static(b"1")).await.unwrap();
        let won = s
            .put_if_match("w.json", Bytes::from_static(b"2"), &v1)
            .await
            .unwrap();
        assert!(matches!(won, PutOutcome::Written(_)));
        let lost = s
            .put_if_match("w.json", Bytes::from_static(b"3"), &v1)
            .await
            .unwrap();
        assert_eq!(lost, PutOutcome::ConditionFailed);
        assert_eq!(&s.get("w.json").await.unwrap().unwrap().bytes[..], b"2");
        let missing = s
            .put_if_match("none.json", Bytes::from_static(b"1"), &v1)
            .await
            .unwrap();
        assert_eq!(missing, PutOutcome::ConditionFailed);
    }

    #[tokio::test]
    async fn rewriting_identical_content_changes_the_version() {
        let (_dir, s) = store();
        let v1 = s.put("w.json", Bytes::from_static(b"same")).await.unwrap();
        let v2 = s.put("w.json", Bytes::from_static(b"same")).await.unwrap();
        assert_ne!(v1, v2);
        assert_eq!(s.get("w.json").await.unwrap().unwrap().version, v2);
        let stale = s
            .put_if_match("w.json", Bytes::from_static(b"x"), &v1)
            .await
            .unwrap();
        assert_eq!(stale, PutOutcome::ConditionFailed);
    }

    #[tokio::test]
    async fn concurrent_swaps_have_exactly_one_winner() {
        let (_dir, s) = store();
        let v = s.put("w.json", Bytes::from_static(b"0")).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let s = s.clone();
                let v = v.clone();
                tokio::spawn(async move {
                    s.put_if_match("w.json", Bytes::from(format!("{i}")), &v)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for t in tasks {
            if matches!(t.await.unwrap(), PutOutcome::Written(_)) {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let (_dir, s) = store();
        assert!(s.path_of("../etc/passwd").is_err());
        assert!(s.path_of("/abs").is_err());
        assert!(s.path_of("dir/").is_err());
        assert!(s.path_of("data/x.jsonl").is_ok());
    }
}
