//! The discovery resources (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.

use serde_json::{Value, json};

use super::filter::MAX_FILTER_LEN;
use super::patch::MAX_OPERATIONS;
use super::schema::{
    ENTERPRISE, ENTERPRISE_SCHEMA, GROUP, GROUP_SCHEMA, USER, USER_SCHEMA, schema_resource,
};

/// The largest page a list answers with.
pub const MAX_PAGE_SIZE: i64 = 200;
/// The largest request body read.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_PAGE_SIZE },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": format!(
                "The organisation's SCIM token (POST /api/v1/scim/tokens). Filters: eq and and, \
                 at most {MAX_FILTER_LEN} bytes; PATCH: at most {MAX_OPERATIONS} operations; \
                 bodies: at most {MAX_BODY_BYTES} bytes."
            ),
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        }
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A user of the organisation",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{ "schema": ENTERPRISE_SCHEMA, "required": false }],
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") },
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A cohort of the organisation",
            "schema": GROUP_SCHEMA,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") },
        }),
    ]
}

pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema_resource(USER_SCHEMA, "User", "User Account", USER, base),
        schema_resource(
            ENTERPRISE_SCHEMA,
            "EnterpriseUser",
            "Enterprise User",
            ENTERPRISE,
            base,
        ),
        schema_resource(GROUP_SCHEMA, "Group", "Group (a cohort)", GROUP, base),
    ]
}

/// A list of all of `resources` as a ListResponse.
pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [super::schema::LIST_RESPONSE],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
