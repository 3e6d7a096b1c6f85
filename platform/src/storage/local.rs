//! Files on local disk under one root: `<root>/<key>`.

use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ObjectKey, StorageError};

pub(super) struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub(super) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// Validated keys hold only relative, dot-free segments, so the path stays under the root.
    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// Writes a temporary file beside the final one, syncs it, renames it over the final name and
    /// syncs the directory: readers see the old object or the new one, never part of one.
    pub(super) async fn put(&self, key: &ObjectKey, bytes: Vec<u8>) -> Result<(), StorageError> {
        let path = self.path(key);
        let key = key.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .context("the file writer stopped")
            .and_then(|written| written)
            .with_context(|| format!("storing {key} on local disk"))?;
        Ok(())
    }

    pub(super) async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if is_absent(&err) => Ok(None),
            Err(err) => Err(StorageError::Backend(
                anyhow::Error::new(err).context(format!("reading {}", path.display())),
            )),
        }
    }

    pub(super) async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(err) if is_absent(&err) => Ok(()),
            Err(err) => Err(StorageError::Backend(
                anyhow::Error::new(err).context(format!("deleting {}", path.display())),
            )),
        }
    }
}

/// No object at that key: nothing there, a file where a directory of the key would be, or a
/// directory that only holds other keys.
fn is_absent(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
    )
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("an object path has a parent")?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("an object path has a file name")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // `~` never occurs in a key, so no key can name (or be shadowed by) a temporary file.
    let temp = dir.join(format!(".{name}~{}", uuid::Uuid::now_v7().simple()));
    let written = (|| {
        let mut file =
            File::create_new(&temp).with_context(|| format!("creating {}", temp.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", temp.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", temp.display()))?;
        std::fs::rename(&temp, path)
            .with_context(|| format!("renaming {} to {}", temp.display(), path.display()))
    })();
    if written.is_err() {
        std::fs::remove_file(&temp).ok();
    }
    written?;
    // The rename is durable once the directory entry is on disk.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::Storage;
    use super::*;

    struct TempRoot(PathBuf);

    impl TempRoot {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("lms-storage-{}", Uuid::now_v7().simple())))
        }
    }

    impl Drop for TempRoot {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    fn key(parts: &[&str]) -> ObjectKey {
        ObjectKey::for_tenant(Uuid::now_v7(), parts).expect("valid key")
    }

    #[tokio::test]
    async fn local_round_trip_under_the_root() {
        let root = TempRoot::new();
        let storage = Storage::local(root.0.clone());
        assert_eq!(storage.backend_name(), "local");
        let key = key(&["submissions", "essay.pdf"]);
        storage
            .put(&key, b"%PDF-1.7".to_vec(), "application/pdf")
            .await
            .expect("put");
        assert_eq!(
            storage.get(&key).await.expect("get").as_deref(),
            Some(&b"%PDF-1.7"[..])
        );
        assert_eq!(
            std::fs::read(root.0.join(key.as_str())).expect("file under root/<key>"),
            b"%PDF-1.7"
        );
        // No temporary file is left beside it.
        let dir = root.0.join(key.as_str());
        let siblings = std::fs::read_dir(dir.parent().expect("parent"))
            .expect("list")
            .count();
        assert_eq!(siblings, 1);
    }

    #[tokio::test]
    async fn local_missing_key_is_none() {
        let root = TempRoot::new();
        let storage = Storage::local(root.0.clone());
        assert_eq!(storage.get(&key(&["nothing"])).await.expect("get"), None);
        // A key below an existing object, and a key that is only a directory of other keys.
        let file = key(&["a"]);
        storage
            .put(&file, b"x".to_vec(), "text/plain")
            .await
            .expect("put");
        let below = ObjectKey::for_tenant(file.tenant(), &["a", "b"]).expect("key");
        assert_eq!(storage.get(&below).await.expect("get"), None);
        let deep = key(&["dir", "file"]);
        storage
            .put(&deep, b"y".to_vec(), "text/plain")
            .await
            .expect("put");
        let dir = ObjectKey::for_tenant(deep.tenant(), &["dir"]).expect("key");
        assert_eq!(storage.get(&dir).await.expect("get"), None);
    }

    #[tokio::test]
    async fn local_overwrite_replaces_the_content() {
        let root = TempRoot::new();
        let storage = Storage::local(root.0.clone());
        let key = key(&["notes.txt"]);
        storage
            .put(&key, b"a much longer first version".to_vec(), "text/plain")
            .await
            .expect("put");
        storage
            .put(&key, b"second".to_vec(), "text/plain")
            .await
            .expect("overwrite");
        assert_eq!(
            storage.get(&key).await.expect("get").as_deref(),
            Some(&b"second"[..])
        );
    }

    #[tokio::test]
    async fn local_delete_removes_and_absent_is_ok() {
        let root = TempRoot::new();
        let storage = Storage::local(root.0.clone());
        let key = key(&["gone.txt"]);
        storage
            .delete(&key)
            .await
            .expect("deleting what was never there");
        storage
            .put(&key, b"x".to_vec(), "text/plain")
            .await
            .expect("put");
        storage.delete(&key).await.expect("delete");
        assert_eq!(storage.get(&key).await.expect("get"), None);
        storage.delete(&key).await.expect("deleting twice");
    }

    #[tokio::test]
    async fn local_write_failure_is_a_backend_error() {
        let root = TempRoot::new();
        // The root is a file, so no directory can be made under it.
        std::fs::write(&root.0, b"not a directory").expect("write");
        let storage = Storage::local(root.0.clone());
        let err = storage
            .put(&key(&["x"]), b"x".to_vec(), "text/plain")
            .await
            .expect_err("cannot write under a file");
        assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
        assert!(err.to_string().contains("local disk"), "{err}");
        std::fs::remove_file(&root.0).ok();
    }
}
