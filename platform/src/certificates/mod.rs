//! Verifiable certificates.
//!
//! - **Templates** per course, or a tenant default, say what a course's certificates state
//!   (title, description, criteria, signatory, credit hours and credits per body, design) and
//!   the issuance rule (an optional minimum final grade, an optional validity in days).
//! - **Issuance**: a job per `course.completed` event ([`job`]), exactly once per learner and
//!   course, or by a tenant admin; **revocation** with a reason. `certificate.issued` and
//!   `certificate.revoked` events.
//! - **The credential** ([`credential`]): an Open Badges 3.0 `OpenBadgeCredential` (VC 2.0)
//!   signed with a Data Integrity proof, `eddsa-rdfc-2022` ([`proof`], [`canon`]), by the
//!   tenant's Ed25519 issuer key ([`keys`], sealed at rest), published in its `did:web`
//!   document ([`did`]); also as a VC-JWT ([`jwt`]); revocable through the tenant's Bitstring
//!   Status List ([`status_list`]).
//! - **The PDF** ([`pdf`]) with a QR code of the verification URL, fonts embedded.
//! - **Public verification** ([`public`], [`verify`], [`page`]): by id or by posting a
//!   credential, checking the signature, the status list and the dates.

pub mod canon;
pub mod credential;
pub mod did;
mod issue;
mod job;
mod jwt;
pub mod keys;
mod model;
mod page;
pub mod pdf;
pub mod proof;
mod public;
mod routes;
pub mod service;
pub mod status_list;
mod store;
pub mod verify;

pub use issue::{Cause, NotIssued, STATUS_LIST_LENGTH, issue};
pub use job::{IssueOnCompletion, issue_on_completion};
pub use model::{
    Certificate, CertificateId, CertificateSource, CertificateStatus, CertificateView, Credit,
    Design, IssuerKeyId, Template, TemplateId,
};
pub use public::router as public_router;
pub use routes::router;
