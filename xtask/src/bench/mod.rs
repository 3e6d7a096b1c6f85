//! `cargo xtask bench …`: commands that print figures of the release server under load.
//!
//! - [`login`]: login throughput and latency (argon2id dominates by design);
//! - [`courses`]: the catalog, course detail, my learning and progress updates against a seeded
//!   tenant, next to what PostgreSQL alone achieves for the same catalog work (pgbench);
//! - [`quiz_storm`]: learners starting, answering and submitting the same quiz at once, driven
//!   by a load generator of its own (`xtask/quiz-storm`), with a check of every attempt;
//! - [`imports`]: bulk CSV imports of 10,000 users and 10,000 enrollments, from upload to the
//!   last row's outcome;
//! - [`scim`]: SCIM user creations per second (`POST /scim/v2/Users`, wrk);
//! - [`certificates`]: certificates issued per second (signed credential and PDF included)
//!   and the PDF's size, measured in process by `platform/examples/certificates_bench.rs`;
//! - [`jobs`]: the job queue's enqueue rates, throughput and latency, measured in process by
//!   `platform/examples/jobs_bench.rs` against its own private cluster.
//!
//! All start the release binary on a free loopback port with its private PostgreSQL cluster
//! under `target/bench/`; login and courses drive it with wrk (Debian package `wrk`, installed
//! on demand when running as root).

mod cluster;
pub mod courses;
pub mod imports;
pub mod login;
mod pgbench;
pub mod quiz_storm;
mod scenarios;
pub mod scim;
mod seed;
pub(crate) mod server;
mod wrk;

/// `cargo xtask bench jobs`: builds and runs the job queue benchmark in release mode.
pub fn jobs(args: &[&str]) -> anyhow::Result<()> {
    crate::run(
        crate::cargo()
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "lms-platform",
                "--example",
                "jobs_bench",
                "--",
            ])
            .args(args),
    )
}

/// `cargo xtask bench certificates`: builds and runs the certificate benchmark in release mode.
pub fn certificates(args: &[&str]) -> anyhow::Result<()> {
    crate::run(
        crate::cargo()
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                "lms-platform",
                "--example",
                "certificates_bench",
                "--",
            ])
            .args(args),
    )
}
