//! Where uploaded files live: local disk by default, S3 (or an S3-compatible store) when
//! configured. Every object is addressed by an [`ObjectKey`], which begins with its tenant.

mod key;
mod local;
mod s3;

use std::path::PathBuf;
use std::sync::Arc;

pub use key::{MAX_KEY_BYTES, ObjectKey};

use crate::config::{S3Config, StorageConfig};

/// Where uploaded files live. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    backend: Arc<Backend>,
}

enum Backend {
    Local(local::LocalStore),
    S3(s3::S3Store),
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    /// The disk or the S3 service failed; the message says what was being done.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

impl Storage {
    /// Files under `root/<key>`.
    pub fn local(root: PathBuf) -> Self {
        Self::with(Backend::Local(local::LocalStore::new(root)))
    }

    /// Fails unless the bucket answers (HeadBucket), so a misconfiguration stops start-up.
    pub async fn s3(config: &S3Config) -> anyhow::Result<Self> {
        Ok(Self::with(Backend::S3(s3::S3Store::connect(config).await?)))
    }

    /// S3 when configured, else `local_root`.
    pub async fn from_config(config: &StorageConfig, local_root: PathBuf) -> anyhow::Result<Self> {
        match &config.s3 {
            Some(s3) => Self::s3(s3).await,
            None => Ok(Self::local(local_root)),
        }
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend: Arc::new(backend),
        }
    }

    /// Stores `bytes` under `key`, replacing what was there.
    pub async fn put(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        match &*self.backend {
            // Local files carry no metadata; readers know the type from their own records.
            Backend::Local(store) => store.put(key, bytes).await,
            Backend::S3(store) => store.put(key, bytes, content_type).await,
        }
    }

    /// `None` when nothing is stored under `key`.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StorageError> {
        match &*self.backend {
            Backend::Local(store) => store.get(key).await,
            Backend::S3(store) => store.get(key).await,
        }
    }

    /// Deleting what is not there succeeds.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match &*self.backend {
            Backend::Local(store) => store.delete(key).await,
            Backend::S3(store) => store.delete(key).await,
        }
    }

    /// `"local"` or `"s3"`, for logs.
    pub fn backend_name(&self) -> &'static str {
        match &*self.backend {
            Backend::Local(_) => "local",
            Backend::S3(_) => "s3",
        }
    }

    /// Where it stores, for logs: the directory or `s3://bucket/prefix`.
    pub fn location(&self) -> String {
        match &*self.backend {
            Backend::Local(store) => store.root().display().to_string(),
            Backend::S3(store) => store.location(),
        }
    }
}
