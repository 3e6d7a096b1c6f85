//! A plain WASI program that reads a file: its component imports `wasi:filesystem`, which is not
//! part of any plugin world, so upload validation must reject it.

fn main() {
    let secret = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    std::process::exit(i32::from(secret.is_empty()));
}
