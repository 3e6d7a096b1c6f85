//! JSON-LD documents to their canonical N-Quads (RDF Dataset Canonicalization, RDFC-1.0), the
//! form Data Integrity proofs sign. Expansion (`oxjsonld`) reads only the contexts shipped in
//! `contexts/`: a document naming any other context is refused, and nothing is fetched.
//! Canonicalization is `rdf-canon`'s; it works on `oxrdf` 0.2 terms, so the parser's terms are
//! carried over one by one.

use std::error::Error;

use oxjsonld::{JsonLdLoadDocumentOptions, JsonLdParser, JsonLdRemoteDocument};

/// The contexts a credential, status list or DID document may use, by URL.
pub const CONTEXTS: &[(&str, &str)] = &[
    (
        CREDENTIALS_V2,
        include_str!("contexts/credentials-v2.jsonld"),
    ),
    (OPEN_BADGES_V3, include_str!("contexts/ob-v3p0-3.0.3.json")),
    (DID_V1, include_str!("contexts/did-v1.jsonld")),
    (MULTIKEY_V1, include_str!("contexts/multikey-v1.jsonld")),
];

/// W3C Verifiable Credentials Data Model 2.0.
pub const CREDENTIALS_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// Open Badges 3.0 (its context for VC 2.0).
pub const OPEN_BADGES_V3: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
/// Decentralized Identifiers 1.0.
pub const DID_V1: &str = "https://www.w3.org/ns/did/v1";
/// Multikey verification methods.
pub const MULTIKEY_V1: &str = "https://w3id.org/security/multikey/v1";

/// Why a document has no canonical form here.
#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    #[error("the document is not JSON-LD we can read: {0}")]
    JsonLd(String),
    #[error("canonicalization failed: {0}")]
    Canonicalization(String),
}

fn load(
    url: &str,
    _options: &JsonLdLoadDocumentOptions,
) -> Result<JsonLdRemoteDocument, Box<dyn Error + Send + Sync>> {
    CONTEXTS
        .iter()
        .find(|(known, _)| *known == url)
        .map(|(known, text)| JsonLdRemoteDocument {
            document: text.as_bytes().to_vec(),
            document_url: (*known).to_owned(),
        })
        .ok_or_else(|| format!("the context {url} is not one this platform reads").into())
}

/// The canonical N-Quads of a JSON-LD document.
pub fn nquads(document: &serde_json::Value) -> Result<String, CanonError> {
    let bytes = serde_json::to_vec(document).map_err(|e| CanonError::JsonLd(e.to_string()))?;
    let mut quads = Vec::new();
    for quad in JsonLdParser::new()
        .for_slice(&bytes)
        .with_load_document_callback(load)
    {
        let quad = quad.map_err(|e| CanonError::JsonLd(e.to_string()))?;
        quads.push(carry::quad(quad));
    }
    rdf_canon::canonicalize_quads(&quads).map_err(|e| CanonError::Canonicalization(e.to_string()))
}

/// `oxrdf` 0.3 (the parser's) to `oxrdf` 0.2 (the canonicalizer's), term by term.
mod carry {
    use oxrdf as to;
    use oxrdf_parsed as from;

    fn named(node: from::NamedNode) -> to::NamedNode {
        to::NamedNode::new_unchecked(node.into_string())
    }

    fn blank(node: &from::BlankNode) -> to::BlankNode {
        to::BlankNode::new_unchecked(node.as_str())
    }

    fn literal(literal: from::Literal) -> to::Literal {
        let (value, datatype, language) = literal.destruct();
        match (language, datatype) {
            (Some(language), _) => {
                to::Literal::new_language_tagged_literal_unchecked(value, language)
            }
            (None, Some(datatype)) => to::Literal::new_typed_literal(value, named(datatype)),
            (None, None) => to::Literal::new_simple_literal(value),
        }
    }

    pub fn quad(quad: from::Quad) -> to::Quad {
        let subject: to::Subject = match quad.subject {
            from::NamedOrBlankNode::NamedNode(n) => named(n).into(),
            from::NamedOrBlankNode::BlankNode(b) => blank(&b).into(),
        };
        let object: to::Term = match quad.object {
            from::Term::NamedNode(n) => named(n).into(),
            from::Term::BlankNode(b) => blank(&b).into(),
            from::Term::Literal(l) => literal(l).into(),
        };
        let graph = match quad.graph_name {
            from::GraphName::NamedNode(n) => to::GraphName::NamedNode(named(n)),
            from::GraphName::BlankNode(b) => to::GraphName::BlankNode(blank(&b)),
            from::GraphName::DefaultGraph => to::GraphName::DefaultGraph,
        };
        to::Quad::new(subject, named(quad.predicate), object, graph)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn blank_nodes_get_canonical_labels_and_lines_are_sorted() {
        let doc = json!({
            "@context": { "@vocab": "https://example.org/" },
            "b": { "name": "second" },
            "a": "first",
        });
        let nquads = nquads(&doc).expect("canonical");
        assert_eq!(
            nquads,
            "_:c14n0 <https://example.org/a> \"first\" .\n\
             _:c14n0 <https://example.org/b> _:c14n1 .\n\
             _:c14n1 <https://example.org/name> \"second\" .\n"
        );
    }

    #[test]
    fn an_unknown_context_is_refused_not_fetched() {
        let doc = json!({ "@context": "https://example.org/evil.jsonld", "a": 1 });
        assert!(matches!(nquads(&doc), Err(CanonError::JsonLd(_))));
    }

    #[test]
    fn the_shipped_contexts_are_what_they_say() {
        for (url, text) in CONTEXTS {
            let parsed: serde_json::Value = serde_json::from_str(text).expect(url);
            assert!(parsed["@context"].is_object(), "{url}");
        }
    }
}
