//! MFA in tests: an authenticator built from the otpauth URI the server hands out (with the same
//! TOTP crate an app would use), and typed calls for enrollment and the login challenge.

use reqwest::StatusCode;
use serde_json::{Value, json};
use totp_rs::TOTP;

use super::{PASSWORD, Reply, TestApp, TestUser};

/// A user's authenticator app.
pub struct Authenticator(TOTP);

impl Authenticator {
    #[track_caller]
    pub fn from_uri(uri: &str) -> Self {
        Self(TOTP::from_url(uri).unwrap_or_else(|e| panic!("otpauth URI {uri}: {e:?}")))
    }

    /// The code of the time step `offset` steps from now (the server accepts -1, 0 and +1).
    /// Tests that sign in several times use increasing offsets, so each code is of a later
    /// step than the one before even when a step boundary passes meanwhile.
    pub fn code(&self, offset: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let at = now.saturating_add_signed(offset * 30);
        self.0.generate(at)
    }

    /// A code of none of the steps the server accepts now.
    pub fn wrong_code(&self) -> String {
        let accepted: Vec<String> = (-1..=1).map(|o| self.code(o)).collect();
        (0..1_000_000)
            .map(|n| format!("{n:06}"))
            .find(|c| !accepted.contains(c))
            .expect("a wrong code")
    }
}

/// An enrolled user's second factor.
pub struct Enrolled {
    pub authenticator: Authenticator,
    pub recovery_codes: Vec<String>,
}

impl TestApp {
    /// `POST /api/v1/auth/mfa/enrollment` as `user`.
    pub async fn begin_mfa_enrollment(&self, slug: &str, access_token: &str) -> Reply {
        self.post("/api/v1/auth/mfa/enrollment")
            .tenant(slug)
            .bearer(access_token)
            .send()
            .await
    }

    /// `POST /api/v1/auth/mfa/enrollment/confirm` with `code`.
    pub async fn confirm_mfa_enrollment(
        &self,
        slug: &str,
        access_token: &str,
        code: &str,
    ) -> Reply {
        self.post("/api/v1/auth/mfa/enrollment/confirm")
            .tenant(slug)
            .bearer(access_token)
            .json(json!({ "code": code }))
            .send()
            .await
    }

    /// Enrolls `user` (confirmed with the previous step's code, so that the current and the
    /// next step's codes are still unused).
    pub async fn enroll_mfa(&self, slug: &str, user: &TestUser) -> Enrolled {
        let begun = self.begin_mfa_enrollment(slug, &user.access_token).await;
        begun.assert_status(StatusCode::OK);
        let authenticator =
            Authenticator::from_uri(begun.json()["otpauth_uri"].as_str().expect("otpauth_uri"));
        let confirmed = self
            .confirm_mfa_enrollment(slug, &user.access_token, &authenticator.code(-1))
            .await;
        confirmed.assert_status(StatusCode::OK);
        let recovery_codes = confirmed.json()["recovery_codes"]
            .as_array()
            .expect("recovery codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        Enrolled {
            authenticator,
            recovery_codes,
        }
    }

    /// Signs in with the test password, expecting an MFA challenge; returns it.
    pub async fn mfa_challenge(&self, slug: &str, email: &str) -> String {
        let reply = self.login(slug, email, PASSWORD).await;
        reply.assert_status(StatusCode::OK);
        let body = reply.json();
        assert_eq!(body["mfa_required"], true, "{body}");
        assert!(body.get("access_token").is_none(), "{body}");
        body["challenge"].as_str().expect("challenge").to_owned()
    }

    /// `POST /api/v1/auth/mfa/verify` with `answer` (e.g. `{"code": …}`) added to the challenge.
    pub async fn verify_mfa(&self, slug: &str, challenge: &str, answer: Value) -> Reply {
        let mut body = json!({ "challenge": challenge });
        if let (Some(body), Value::Object(answer)) = (body.as_object_mut(), answer) {
            body.extend(answer);
        }
        self.post("/api/v1/auth/mfa/verify")
            .tenant(slug)
            .json(body)
            .send()
            .await
    }
}
