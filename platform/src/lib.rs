//! The LMS server: HTTP API, domain services, SQL and background jobs.

#[macro_use]
mod ids;
#[macro_use]
pub mod text_enum;

pub mod app;
pub mod assignments;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod certificates;
pub mod cohorts;
pub mod config;
pub mod courses;
pub mod db;
pub mod demo;
pub mod email;
pub mod enrollments;
pub mod error;
pub mod events;
pub mod gradebook;
pub mod health;
pub mod http;
pub mod imports;
pub mod jobs;
pub mod mfa;
pub mod notifications;
pub mod openapi;
pub mod operator;
pub mod outbound;
pub mod pg_cluster;
pub mod plugins;
pub mod progress;
pub mod question_banks;
pub mod quizzes;
pub mod reports;
pub mod scim;
pub mod secrets_at_rest;
pub mod sso;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod tenant_profile;
pub mod tls_ask;
pub mod users;
pub mod validation;
pub mod webhooks;
