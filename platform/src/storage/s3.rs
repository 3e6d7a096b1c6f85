//! Objects in an S3 bucket, or any S3-compatible store (MinIO, moto, Ceph...).

use std::time::Duration;

use anyhow::Context;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use secrecy::ExposeSecret;

use super::{ObjectKey, StorageError, key::check_segment};
use crate::config::S3Config;

pub(super) struct S3Store {
    client: Client,
    bucket: String,
    /// `"<prefix>/"` or empty.
    prefix: String,
}

impl S3Store {
    /// Builds the client from `config` alone (never from the environment, profile files or
    /// instance metadata) and checks that the bucket answers.
    pub(super) async fn connect(config: &S3Config) -> anyhow::Result<Self> {
        let prefix = normalized_prefix(config.prefix.as_deref())?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::v2026_01_12())
            .http_client(http)
            .region(Region::new(config.region.clone()))
            .force_path_style(config.path_style)
            // A wrong endpoint fails start-up in seconds rather than hanging it.
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .build(),
            )
            // Many S3-compatible stores reject the newer default checksum headers; TLS already
            // protects the bytes in transit.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        builder = match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => builder.credentials_provider(Credentials::new(
                id.expose_secret(),
                secret.expose_secret(),
                None,
                None,
                "lms-config",
            )),
            (None, None) => {
                tracing::warn!(
                    bucket = %config.bucket,
                    "no S3 credentials configured: requests are sent unsigned"
                );
                builder.allow_no_auth()
            }
            _ => anyhow::bail!(
                "LMS_S3_ACCESS_KEY_ID and LMS_S3_SECRET_ACCESS_KEY must be set together"
            ),
        };
        let store = Self {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            prefix,
        };
        store.check_bucket(config).await?;
        Ok(store)
    }

    async fn check_bucket(&self, config: &S3Config) -> anyhow::Result<()> {
        let Err(err) = self.client.head_bucket().bucket(&self.bucket).send().await else {
            return Ok(());
        };
        let at = config.endpoint.as_deref().unwrap_or("AWS");
        let status = err.raw_response().map(|r| r.status().as_u16());
        let why = match status {
            Some(404) => "it does not exist".to_owned(),
            Some(401 | 403) if config.access_key_id.is_none() => {
                "access denied, and no credentials are configured (LMS_S3_ACCESS_KEY_ID, \
                 LMS_S3_SECRET_ACCESS_KEY)"
                    .to_owned()
            }
            Some(401 | 403) => "access denied with the configured credentials".to_owned(),
            _ => causes(&err),
        };
        anyhow::bail!(
            "S3 bucket {:?} at {at} (region {}) is not usable: {why}",
            self.bucket,
            config.region
        )
    }

    pub(super) fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn object_key(&self, key: &ObjectKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    pub(super) async fn put(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| backend(format!("storing {key} in S3"), &err))?;
        Ok(())
    }

    pub(super) async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StorageError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(backend(format!("reading {key} from S3"), &err)),
        };
        let body = output
            .body
            .collect()
            .await
            .with_context(|| format!("reading the body of {key} from S3"))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    pub(super) async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        // S3 answers 204 whether or not the object existed.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(|err| backend(format!("deleting {key} from S3"), &err))?;
        Ok(())
    }
}

fn backend(what: String, err: &(dyn std::error::Error + 'static)) -> StorageError {
    StorageError::Backend(anyhow::anyhow!("{what}: {}", causes(err)))
}

/// The SDK's own `Display` says only "service error" or "dispatch failure"; its sources say why.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `a/b/` or `/a/b` become `a/b/`; each segment follows the key rules.
fn normalized_prefix(prefix: Option<&str>) -> anyhow::Result<String> {
    let Some(prefix) = prefix
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
    else {
        return Ok(String::new());
    };
    for segment in prefix.split('/') {
        check_segment(segment).with_context(|| format!("LMS_S3_PREFIX={prefix:?}"))?;
    }
    Ok(format!("{prefix}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_normalized_and_checked() {
        assert_eq!(normalized_prefix(None).expect("none"), "");
        assert_eq!(normalized_prefix(Some("/")).expect("slash"), "");
        assert_eq!(normalized_prefix(Some("lms")).expect("one"), "lms/");
        assert_eq!(
            normalized_prefix(Some("/prod/files/")).expect("two"),
            "prod/files/"
        );
        assert!(normalized_prefix(Some("a/../b")).is_err());
        assert!(normalized_prefix(Some("a//b")).is_err());
        assert!(normalized_prefix(Some("a b")).is_err());
    }
}
