//! A plugin's configuration schema: checked to be a JSON Schema at upload, and applied to a
//! question's configuration before the plugin sees it.
//!
//! Remote references are never fetched (the `jsonschema` crate is built without its HTTP and file
//! resolvers), so a schema cannot make the server open connections or read files.

use serde_json::Value;

use crate::error::FieldError;

/// Most field errors reported for one configuration.
const MAX_ERRORS: usize = 20;

/// Compiles the schema (validating it against its meta-schema first).
pub fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    if !(schema.is_object() || schema.is_boolean()) {
        return Err("a JSON Schema is an object or a boolean".into());
    }
    jsonschema::meta::validate(schema).map_err(|e| format!("not a valid JSON Schema: {e}"))?;
    jsonschema::validator_for(schema).map_err(|e| format!("the schema cannot be used: {e}"))
}

/// The configuration's violations of the schema, as field errors under `config`.
pub fn violations(validator: &jsonschema::Validator, config: &Value) -> Vec<FieldError> {
    validator
        .iter_errors(config)
        .take(MAX_ERRORS)
        .map(|error| {
            let path = error.instance_path().to_string();
            let field = if path.is_empty() {
                "config".to_owned()
            } else {
                format!("config{}", path.replace('/', "."))
            };
            FieldError::new(field, "schema_violation", error.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn schemas_are_checked_and_applied() {
        assert!(compile(&json!({"type": "no-such-type"})).is_err());
        assert!(compile(&json!(42)).is_err());
        assert!(compile(&json!({"$ref": "https://example.com/schema.json"})).is_err());
        let schema = compile(&json!({
            "type": "object",
            "required": ["answer"],
            "properties": {"answer": {"type": "number"}, "tolerance": {"type": "number", "minimum": 0}}
        }))
        .map_err(|e| e.to_string());
        let Ok(schema) = schema else {
            panic!("{schema:?}")
        };
        assert!(violations(&schema, &json!({"answer": 1.5})).is_empty());
        let errors = violations(&schema, &json!({"answer": "x", "tolerance": -1}));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"config.answer"), "{fields:?}");
        assert!(fields.contains(&"config.tolerance"), "{fields:?}");
        assert_eq!(violations(&schema, &json!({}))[0].field, "config");
    }
}
