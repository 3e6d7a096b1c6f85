//! TOTP (RFC 6238): SHA-1, 6 digits, 30-second steps, as every authenticator app reads them.
//! A code is accepted for the current step or one step either side (clock skew), and only for a
//! step later than the last one accepted, so a code works once. The check takes the time as a
//! parameter: tests pin the clock to step boundaries.

use std::fmt;

use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u64 = 1;
const DIGITS: usize = 6;
const SECRET_BYTES: usize = 20;

/// A TOTP seed (160 bits, RFC 4226's recommendation). Its `Debug` shows nothing.
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The seed in base32 without padding, as authenticator apps take it typed in.
    pub fn base32(&self) -> String {
        self.totp(String::new(), String::new()).get_secret_base32()
    }

    /// The `otpauth://totp/...` URI that authenticator apps scan. `:` separates issuer and
    /// account in the label, so it is replaced in both.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(issuer.replace(':', " "), account.replace(':', " "))
            .get_url()
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp(String::new(), String::new())
            .generate(step.saturating_mul(STEP_SECONDS))
    }

    fn totp(&self, issuer: String, account: String) -> TOTP {
        // Skew is applied by `verify` itself, which needs to know the step that matched.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS,
            self.0.clone(),
            (!issuer.is_empty()).then_some(issuer),
            account,
        )
    }
}

/// Why a code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpRefusal {
    /// Not six digits.
    Malformed,
    /// No step within the skew window has this code.
    Wrong,
    /// The code is of a step already used (or earlier).
    Replayed,
}

/// The time step of a Unix time.
pub fn step_of(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// Checks `code` at `unix_seconds`; returns the step it belongs to, which the caller stores as
/// the last used step. Every step of the window is compared (in constant time), so the time
/// taken does not say which one matched.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_seconds: u64,
    last_used_step: Option<u64>,
) -> Result<u64, TotpRefusal> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpRefusal::Malformed);
    }
    let now = step_of(unix_seconds);
    let mut matched = None;
    for step in now.saturating_sub(SKEW_STEPS)..=now.saturating_add(SKEW_STEPS) {
        let expected = secret.code_at_step(step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) && matched.is_none() {
            matched = Some(step);
        }
    }
    let step = matched.ok_or(TotpRefusal::Wrong)?;
    if last_used_step.is_some_and(|last| step <= last) {
        return Err(TotpRefusal::Replayed);
    }
    Ok(step)
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The enrollment QR code of an otpauth URI, as an SVG document.
pub fn qr_svg(uri: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// The same QR code as a `data:` URI, for an `<img src>`.
pub fn qr_svg_data_uri(svg: &str) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 seed.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn codes_match_the_rfc_6238_vectors() {
        // The RFC lists 8 digits; 6-digit codes are their last six.
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(
                rfc_secret().code_at_step(step_of(time)),
                eight[2..],
                "{time}"
            );
        }
    }

    #[test]
    fn step_boundaries_are_exact() {
        let secret = rfc_secret();
        // 59 is the last second of step 1; 60 the first of step 2.
        assert_eq!(step_of(59), 1);
        assert_eq!(step_of(60), 2);
        let step_one = secret.code_at_step(1);
        assert_eq!(verify(&secret, &step_one, 59, None), Ok(1));
        // Still within the skew window one step later, and refused two steps later.
        assert_eq!(verify(&secret, &step_one, 60, None), Ok(1));
        assert_eq!(verify(&secret, &step_one, 89, None), Ok(1));
        assert_eq!(
            verify(&secret, &step_one, 90, None),
            Err(TotpRefusal::Wrong)
        );
    }

    #[test]
    fn one_step_of_skew_either_way_and_no_more() {
        let secret = rfc_secret();
        let now = 1_000 * STEP_SECONDS + 7;
        let current = step_of(now);
        assert_eq!(
            verify(&secret, &secret.code_at_step(current - 1), now, None),
            Ok(current - 1)
        );
        assert_eq!(
            verify(&secret, &secret.code_at_step(current + 1), now, None),
            Ok(current + 1)
        );
        for far in [current - 2, current + 2] {
            let code = secret.code_at_step(far);
            // A code of a far step may coincide with a near one's; only then is it accepted.
            let coincides = [current - 1, current, current + 1]
                .iter()
                .any(|s| secret.code_at_step(*s) == code);
            assert_eq!(
                verify(&secret, &code, now, None).is_ok(),
                coincides,
                "step {far}"
            );
        }
    }

    #[test]
    fn a_code_works_once_and_earlier_steps_never_again() {
        let secret = rfc_secret();
        let now = 5_000 * STEP_SECONDS;
        let code = secret.code_at_step(step_of(now));
        let used = verify(&secret, &code, now, None).expect("first use");
        assert_eq!(
            verify(&secret, &code, now, Some(used)),
            Err(TotpRefusal::Replayed)
        );
        // The previous step's code is still inside the skew window but older than the last use.
        let previous = secret.code_at_step(used - 1);
        assert_eq!(
            verify(&secret, &previous, now, Some(used)),
            Err(TotpRefusal::Replayed)
        );
        // The next step's code is new.
        let next = secret.code_at_step(used + 1);
        assert_eq!(verify(&secret, &next, now, Some(used)), Ok(used + 1));
    }

    #[test]
    fn junk_is_malformed_not_wrong() {
        let secret = rfc_secret();
        for junk in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert_eq!(
                verify(&secret, junk, 59, None),
                Err(TotpRefusal::Malformed),
                "{junk}"
            );
        }
        assert_eq!(verify(&secret, " 287082 ", 59, None), Ok(1));
    }

    #[test]
    fn the_uri_names_issuer_and_account_and_carries_the_seed() {
        let secret = rfc_secret();
        let uri = secret.otpauth_uri("Acme: Training", "ada@acme.example");
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(
            uri.contains(&format!("secret={}", secret.base32())),
            "{uri}"
        );
        assert!(uri.contains("issuer=Acme%20%20Training"), "{uri}");
        let parsed = TOTP::from_url(&uri).expect("authenticator apps can read it");
        assert_eq!(parsed.generate(59), "287082");
        let svg = qr_svg(&uri).expect("qr");
        assert!(svg.contains("<svg"), "{svg}");
        assert!(qr_svg_data_uri(&svg).starts_with("data:image/svg+xml;base64,"));
    }
}
