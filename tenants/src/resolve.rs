//! Which tenant a request is for: custom domain, then subdomain of the base domain, then the
//! `X-Tenant` header. Lookups are cached briefly; operator changes invalidate the local cache.

use std::time::Duration;

use moka::future::Cache;

use crate::model::TenantRow;
use crate::{Slug, Tenant, TenantDb};

/// The outcome of resolving a request's tenant.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The tenant exists and is active.
    Active(Box<Tenant>),
    /// The tenant exists and is suspended.
    Suspended(Box<Tenant>),
    /// No tenant answers to this host or header.
    Unknown,
}

#[derive(Clone, Hash, PartialEq, Eq)]
enum Key {
    Domain(String),
    Slug(String),
    Id(String),
}

/// Resolves and caches tenants by host or slug.
#[derive(Clone)]
pub struct TenantResolver {
    db: TenantDb,
    base_domain: Option<String>,
    cache: Cache<Key, Option<Tenant>>,
}

impl TenantResolver {
    /// `base_domain` (e.g. `lms.example.com`) makes `acme.lms.example.com` resolve to slug `acme`.
    pub fn new(db: TenantDb, base_domain: Option<String>, ttl: Duration) -> Self {
        let base_domain = base_domain
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty());
        Self {
            db,
            base_domain,
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Resolves from the request's `Host` (may carry a port) and `X-Tenant` header values.
    pub async fn resolve(
        &self,
        host: Option<&str>,
        header: Option<&str>,
    ) -> Result<Resolution, sqlx::Error> {
        let host = host.map(strip_port).map(str::to_ascii_lowercase);
        if let Some(host) = host.as_deref() {
            if let Some(tenant) = self.lookup(Key::Domain(host.to_owned())).await? {
                return Ok(classify(tenant));
            }
            if let Some(label) = self.subdomain_label(host) {
                return match Slug::parse(label) {
                    Ok(slug) => Ok(self
                        .lookup(Key::Slug(slug.as_str().to_owned()))
                        .await?
                        .map_or(Resolution::Unknown, classify)),
                    Err(_) => Ok(Resolution::Unknown),
                };
            }
        }
        match header.map(Slug::parse) {
            Some(Ok(slug)) => Ok(self
                .lookup(Key::Slug(slug.as_str().to_owned()))
                .await?
                .map_or(Resolution::Unknown, classify)),
            _ => Ok(Resolution::Unknown),
        }
    }

    /// The tenant with this id (a credential that names its tenant, such as a SCIM token).
    pub async fn by_id(&self, id: crate::TenantId) -> Result<Resolution, sqlx::Error> {
        Ok(self
            .lookup(Key::Id(id.as_uuid().to_string()))
            .await?
            .map_or(Resolution::Unknown, classify))
    }

    /// Forgets cached lookups (after the operator changes a tenant or its domains).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    fn subdomain_label<'h>(&self, host: &'h str) -> Option<&'h str> {
        let base = self.base_domain.as_deref()?;
        let label = host.strip_suffix(base)?.strip_suffix('.')?;
        (!label.contains('.')).then_some(label)
    }

    async fn lookup(&self, key: Key) -> Result<Option<Tenant>, sqlx::Error> {
        if let Some(hit) = self.cache.get(&key).await {
            return Ok(hit);
        }
        let found = self.fetch(&key).await?;
        self.cache.insert(key, found.clone()).await;
        Ok(found)
    }

    // The registry tables are platform reference data readable without tenant context.
    async fn fetch(&self, key: &Key) -> Result<Option<Tenant>, sqlx::Error> {
        let (filter, value) = match key {
            Key::Domain(d) => (
                "t.id = (select tenant_id from tenant_domains where domain = $1)",
                d,
            ),
            Key::Slug(s) => ("t.slug = $1", s),
            Key::Id(id) => ("t.id = $1::uuid", id),
        };
        let sql = format!(
            "select {} from tenants t where {filter}",
            TenantRow::COLUMNS
        );
        let row: Option<TenantRow> = sqlx::query_as(&sql)
            .bind(value)
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(Tenant::from))
    }
}

fn classify(tenant: Tenant) -> Resolution {
    match tenant.status {
        crate::TenantStatus::Active => Resolution::Active(Box::new(tenant)),
        crate::TenantStatus::Suspended => Resolution::Suspended(Box::new(tenant)),
    }
}

fn strip_port(host: &str) -> &str {
    // IPv6 literals keep their brackets; a trailing :port is dropped.
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    }
    .trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::strip_port;

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("acme.lms.test:8080"), "acme.lms.test");
        assert_eq!(strip_port("acme.lms.test"), "acme.lms.test");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
    }
}
