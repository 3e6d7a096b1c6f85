//! Black-box and database tests: one binary, one module per feature.

mod health;
mod helpers;
