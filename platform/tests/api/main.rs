//! Black-box and database tests: one binary, one module per feature.

mod helpers;

mod assignments;
mod audit;
mod auth;
mod cancellation;
mod catalog;
mod cohorts;
mod cookies;
mod courses;
mod cross_tenant;
mod demo;
mod enrollments;
mod errors;
mod events;
mod gradebook;
mod health;
mod hostile_input;
mod jobs;
mod managers;
mod notifications;
mod operator;
mod outbound;
mod plugin_uploads;
mod plugins;
mod progress;
mod quizzes;
mod rate_limits;
mod rls;
mod s3_peer;
mod smtp;
mod storage;
mod tenant_profile;
mod tokens;
mod users;
mod webhooks;
