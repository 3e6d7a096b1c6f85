//! The OpenID Connect relying party: provider discovery and keys (cached per connection), the
//! authorization request with state, nonce and PKCE S256, the code exchange, and the ID token
//! checks. Every call to a provider goes through the guarded outbound client: https only (except
//! `LMS_OUTBOUND_ALLOW`), no redirects, no private addresses, timeouts and a body cap.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    HttpRequest, HttpResponse, IssuerUrl, JsonWebKeySet, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError, TokenResponse,
};
use serde_json::Value;

use crate::outbound::{Limits, Outbound, OutboundError};

/// How long discovered metadata and keys are reused before they are fetched again.
const PROVIDER_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the provider's keys at most this often.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// ID token algorithms accepted: asymmetric signatures only (no `none`, no HMAC with the
/// client secret).
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];
/// Tokens and claims read from a provider are bounded.
const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;

/// Why a sign-in through the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider could not be reached or answered badly: {0}")]
    Provider(String),
    #[error("the identity provider refused the authorization code: {0}")]
    CodeRefused(String),
    #[error("the ID token was refused: {0}")]
    IdToken(#[from] IdTokenRefusal),
}

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenRefusal {
    #[error("the token is malformed or too large")]
    Malformed,
    #[error("the token's issuer is not the connection's issuer")]
    WrongIssuer,
    #[error("the token is not meant for this client (audience)")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token's nonce does not match the login")]
    WrongNonce,
    #[error("the token's signature algorithm is not allowed")]
    DisallowedAlgorithm,
    #[error("no key of the provider matches the token's signature")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token was refused: {0}")]
    Other(String),
}

/// What the relying party must find in an ID token.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// The verified claims of an ID token, as JSON (to read the connection's configured claims).
#[derive(Debug, Clone)]
pub struct VerifiedClaims {
    pub issuer: String,
    pub subject: String,
    pub claims: serde_json::Map<String, Value>,
}

impl VerifiedClaims {
    /// A string claim by name.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A claim holding a list of strings (or a single string), e.g. groups or `amr`; at most
    /// 500 entries of at most 200 characters are kept.
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.claims.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| s.len() <= 200)
                .take(500)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) if one.len() <= 200 => vec![one.clone()],
            _ => Vec::new(),
        }
    }
}

/// Checks an ID token against the expected issuer (exact), audience, nonce, expiry (at `now`)
/// and a signature by one of `keys` with an allowed algorithm.
pub fn verify_id_token(
    token: &str,
    expected: &Expected<'_>,
    keys: &CoreJsonWebKeySet,
    now: DateTime<Utc>,
) -> Result<VerifiedClaims, IdTokenRefusal> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(IdTokenRefusal::Malformed);
    }
    let id_token = CoreIdToken::from_str(token).map_err(|_| IdTokenRefusal::Malformed)?;
    let issuer =
        IssuerUrl::new(expected.issuer.to_owned()).map_err(|_| IdTokenRefusal::WrongIssuer)?;
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(expected.client_id.to_owned()),
        issuer,
        keys.clone(),
    )
    .set_allowed_algs(ALLOWED_ALGS)
    .set_time_fn(move || now);
    let nonce = Nonce::new(expected.nonce.to_owned());
    let claims = id_token.claims(&verifier, &nonce).map_err(refusal)?;
    let issuer = claims.issuer().as_str().to_owned();
    let subject = claims.subject().as_str().to_owned();
    // The signature is proven: the payload can be read as plain JSON for the claims the
    // connection names (custom email, name and groups claims).
    let payload = token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Map<String, Value>>(&bytes).ok())
        .ok_or(IdTokenRefusal::Malformed)?;
    Ok(VerifiedClaims {
        issuer,
        subject,
        claims: payload,
    })
}

fn refusal(err: ClaimsVerificationError) -> IdTokenRefusal {
    match err {
        ClaimsVerificationError::Expired(_) => IdTokenRefusal::Expired,
        ClaimsVerificationError::InvalidAudience(_) => IdTokenRefusal::WrongAudience,
        ClaimsVerificationError::InvalidIssuer(_) => IdTokenRefusal::WrongIssuer,
        ClaimsVerificationError::InvalidNonce(_) => IdTokenRefusal::WrongNonce,
        ClaimsVerificationError::SignatureVerification(sig) => match sig {
            SignatureVerificationError::DisallowedAlg(_)
            | SignatureVerificationError::NoSignature
            | SignatureVerificationError::UnsupportedAlg(_) => IdTokenRefusal::DisallowedAlgorithm,
            SignatureVerificationError::NoMatchingKey => IdTokenRefusal::UnknownKey,
            SignatureVerificationError::CryptoError(_)
            | SignatureVerificationError::InvalidKey(_)
            | SignatureVerificationError::AmbiguousKeyId(_) => IdTokenRefusal::BadSignature,
            other => IdTokenRefusal::Other(other.to_string()),
        },
        other => IdTokenRefusal::Other(other.to_string()),
    }
}

/// The start of a login: where to send the browser and what to keep server-side.
pub struct AuthorizationRequest {
    pub url: url::Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The authorization code request with a fresh state, nonce and PKCE (S256) challenge.
pub fn authorization_request(
    metadata: &CoreProviderMetadata,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
) -> anyhow::Result<AuthorizationRequest> {
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(client_id.to_owned()),
        None,
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in scopes.iter().filter(|s| s.as_str() != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    Ok(AuthorizationRequest {
        url,
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// A provider is kept per tenant and connection.
pub type ProviderKey = (lms_tenants::TenantId, super::ConnectionId);

/// A provider's discovered metadata and its current keys.
pub struct Provider {
    pub metadata: CoreProviderMetadata,
    keys: RwLock<CoreJsonWebKeySet>,
    last_key_fetch: Mutex<Instant>,
}

impl Provider {
    pub fn issuer(&self) -> &str {
        self.metadata.issuer().as_str()
    }

    fn keys(&self) -> CoreJsonWebKeySet {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The providers of every connection, discovered on first use and kept for an hour.
#[derive(Clone)]
pub struct Providers {
    http: IdpHttp,
    cache: moka::future::Cache<ProviderKey, Arc<Provider>>,
    refetch_interval: Duration,
}

impl Providers {
    pub fn new(allow: crate::outbound::AllowList) -> anyhow::Result<Self> {
        let limits = Limits {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(10),
            body_bytes: 256 * 1024,
        };
        Ok(Self {
            http: IdpHttp(Outbound::new(allow, limits)?),
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(PROVIDER_TTL)
                .build(),
            refetch_interval: JWKS_REFETCH_INTERVAL,
        })
    }

    /// The connection's provider, discovered from `issuer` (whose discovery document must name
    /// exactly that issuer) unless already known.
    pub async fn get(&self, key: ProviderKey, issuer: &str) -> Result<Arc<Provider>, OidcError> {
        if let Some(found) = self.cache.get(&key).await
            && found.issuer() == issuer
        {
            return Ok(found);
        }
        let issuer_url = IssuerUrl::new(issuer.to_owned())
            .map_err(|err| OidcError::Provider(format!("issuer URL: {err}")))?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &self.http)
            .await
            .map_err(|err| OidcError::Provider(format!("discovery: {}", error_chain(&err))))?;
        let provider = Arc::new(Provider {
            keys: RwLock::new(metadata.jwks().clone()),
            metadata,
            last_key_fetch: Mutex::new(Instant::now()),
        });
        self.cache.insert(key, Arc::clone(&provider)).await;
        Ok(provider)
    }

    /// Forgets a connection's provider (its settings changed or it was deleted).
    pub async fn forget(&self, key: ProviderKey) {
        self.cache.invalidate(&key).await;
    }

    /// Exchanges the authorization code (with the PKCE verifier) and verifies the ID token. An
    /// unknown key id refetches the provider's keys once, at most once per interval.
    #[allow(clippy::too_many_arguments)]
    pub async fn exchange(
        &self,
        provider: &Provider,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<VerifiedClaims, OidcError> {
        let client = CoreClient::from_provider_metadata(
            provider.metadata.clone(),
            ClientId::new(client_id.to_owned()),
            Some(ClientSecret::new(client_secret.to_owned())),
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_owned())
                .map_err(|err| OidcError::Provider(err.to_string()))?,
        );
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|err| OidcError::Provider(err.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let response = request
            .request_async(&self.http)
            .await
            .map_err(|err| OidcError::CodeRefused(error_chain(&err)))?;
        let id_token = response
            .id_token()
            .ok_or(OidcError::IdToken(IdTokenRefusal::Malformed))?
            .to_string();
        let expected = Expected {
            issuer: provider.issuer(),
            client_id,
            nonce,
        };
        match verify_id_token(&id_token, &expected, &provider.keys(), Utc::now()) {
            Err(IdTokenRefusal::UnknownKey) if self.may_refetch_keys(provider) => {
                let keys = JsonWebKeySet::fetch_async(provider.metadata.jwks_uri(), &self.http)
                    .await
                    .map_err(|err| OidcError::Provider(format!("keys: {}", error_chain(&err))))?;
                *provider
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
                Ok(verify_id_token(
                    &id_token,
                    &expected,
                    &provider.keys(),
                    Utc::now(),
                )?)
            }
            other => Ok(other?),
        }
    }

    /// Whether the keys may be fetched again now; if so the time is taken for this fetch.
    fn may_refetch_keys(&self, provider: &Provider) -> bool {
        let mut last = provider
            .last_key_fetch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.elapsed() < self.refetch_interval {
            return false;
        }
        *last = Instant::now();
        true
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The outbound client as the `openidconnect` crate's HTTP client.
#[derive(Clone)]
struct IdpHttp(Outbound);

#[derive(Debug, thiserror::Error)]
enum IdpHttpError {
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error("the answer is larger than the limit")]
    TooLarge,
    #[error("building the answer: {0}")]
    Http(#[from] openidconnect::http::Error),
}

impl<'c> AsyncHttpClient<'c> for IdpHttp {
    type Error = IdpHttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, IdpHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let answer = self
                .0
                .send(parts.method, &parts.uri.to_string(), parts.headers, body)
                .await?;
            if answer.truncated {
                return Err(IdpHttpError::TooLarge);
            }
            let mut response = openidconnect::http::Response::builder()
                .status(answer.status)
                .body(answer.body)?;
            *response.headers_mut() = answer.headers;
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    use serde_json::json;
    use sha2::{Digest, Sha256};

    use super::*;

    const ISSUER: &str = "https://idp.example.com";
    const CLIENT: &str = "lms-client";
    const NONCE: &str = "the-nonce-of-this-login";

    struct Key {
        kid: &'static str,
        pem: String,
        jwk: Value,
    }

    fn key(kid: &'static str) -> Key {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa key");
        let pem = private
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("pem")
            .to_string();
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        });
        Key { kid, pem, jwk }
    }

    fn keys(of: &[&Key]) -> CoreJsonWebKeySet {
        serde_json::from_value(
            json!({ "keys": of.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }),
        )
        .expect("jwks")
    }

    fn claims(now: DateTime<Utc>) -> Value {
        json!({
            "iss": ISSUER, "aud": CLIENT, "sub": "user-1", "nonce": NONCE,
            "iat": now.timestamp(), "exp": now.timestamp() + 300,
            "email": "ada@example.com", "groups": ["teachers"], "amr": ["pwd", "mfa"],
        })
    }

    fn sign(key: &Key, kid: &str, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(key.pem.as_bytes()).expect("key");
        jsonwebtoken::encode(&header, claims, &encoding).expect("signed")
    }

    fn expected() -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            client_id: CLIENT,
            nonce: NONCE,
        }
    }

    fn with(mut claims: Value, field: &str, value: Value) -> Value {
        claims[field] = value;
        claims
    }

    #[test]
    fn id_tokens_are_checked_for_issuer_audience_expiry_nonce_algorithm_and_key() {
        let now = Utc::now();
        let k1 = key("k1");
        let jwks = keys(&[&k1]);
        let verify = |token: &str| verify_id_token(token, &expected(), &jwks, now);

        let good = verify(&sign(&k1, k1.kid, &claims(now))).expect("a good token verifies");
        assert_eq!(good.subject, "user-1");
        assert_eq!(good.string("email"), Some("ada@example.com"));
        assert_eq!(good.strings("amr"), vec!["pwd", "mfa"]);

        let refused = |claims: Value| verify(&sign(&k1, "k1", &claims)).err();
        assert_eq!(
            refused(with(claims(now), "aud", json!("another-client"))),
            Some(IdTokenRefusal::WrongAudience)
        );
        assert_eq!(
            refused(with(claims(now), "iss", json!("https://idp.example.com/"))),
            Some(IdTokenRefusal::WrongIssuer),
            "the issuer must match exactly"
        );
        assert_eq!(
            refused(with(claims(now), "iss", json!("https://evil.example.com"))),
            Some(IdTokenRefusal::WrongIssuer)
        );
        assert_eq!(
            refused(with(claims(now), "exp", json!(now.timestamp() - 10))),
            Some(IdTokenRefusal::Expired)
        );
        assert_eq!(
            refused(with(claims(now), "nonce", json!("a-replayed-nonce"))),
            Some(IdTokenRefusal::WrongNonce)
        );
        let mut no_nonce = claims(now);
        no_nonce.as_object_mut().map(|c| c.remove("nonce"));
        assert_eq!(refused(no_nonce), Some(IdTokenRefusal::WrongNonce));
    }

    #[test]
    fn unsigned_and_symmetric_tokens_are_refused() {
        let now = Utc::now();
        let k1 = key("k1");
        let jwks = keys(&[&k1]);
        let payload = URL_SAFE_NO_PAD.encode(claims(now).to_string());
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
        );
        assert_eq!(
            verify_id_token(&none, &expected(), &jwks, now).err(),
            Some(IdTokenRefusal::DisallowedAlgorithm)
        );
        // HMAC keyed with something the client knows (its secret) proves nothing about the IdP.
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims(now),
            &jsonwebtoken::EncodingKey::from_secret(b"the-client-secret"),
        )
        .expect("hs256");
        assert_eq!(
            verify_id_token(&hs, &expected(), &jwks, now).err(),
            Some(IdTokenRefusal::DisallowedAlgorithm)
        );
        assert_eq!(
            verify_id_token("not.a.jwt", &expected(), &jwks, now).err(),
            Some(IdTokenRefusal::Malformed)
        );
    }

    #[test]
    fn a_rotated_key_is_unknown_until_the_keys_are_fetched_again() {
        let now = Utc::now();
        let (k1, k2) = (key("k1"), key("k2"));
        let token = sign(&k2, k2.kid, &claims(now));
        assert_eq!(
            verify_id_token(&token, &expected(), &keys(&[&k1]), now).err(),
            Some(IdTokenRefusal::UnknownKey)
        );
        assert!(verify_id_token(&token, &expected(), &keys(&[&k1, &k2]), now).is_ok());
        // Another key's signature under a known key id does not verify.
        let forged = sign(&k2, k1.kid, &claims(now));
        assert_eq!(
            verify_id_token(&forged, &expected(), &keys(&[&k1]), now).err(),
            Some(IdTokenRefusal::BadSignature)
        );
    }

    fn metadata() -> CoreProviderMetadata {
        serde_json::from_value(json!({
            "issuer": ISSUER,
            "authorization_endpoint": format!("{ISSUER}/authorize"),
            "token_endpoint": format!("{ISSUER}/token"),
            "jwks_uri": format!("{ISSUER}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }))
        .expect("metadata")
    }

    #[test]
    fn the_authorization_request_carries_state_nonce_and_an_s256_pkce_challenge() {
        let scopes = vec!["openid".to_owned(), "email".to_owned()];
        let request = authorization_request(
            &metadata(),
            CLIENT,
            "https://acme.lms.test/api/v1/auth/sso/callback",
            &scopes,
        )
        .expect("request");
        let query: std::collections::HashMap<String, String> =
            request.url.query_pairs().into_owned().collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], CLIENT);
        assert_eq!(query["state"], request.state);
        assert_eq!(query["nonce"], request.nonce);
        assert_eq!(query["code_challenge_method"], "S256");
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(request.pkce_verifier.as_bytes()));
        assert_eq!(query["code_challenge"], challenge);
        assert!(
            request.pkce_verifier.len() >= 43,
            "RFC 7636: 43 to 128 characters"
        );
        assert_eq!(query["scope"], "openid email");
        let again = authorization_request(&metadata(), CLIENT, "https://a.test/cb", &scopes)
            .expect("request");
        assert_ne!(again.state, request.state);
        assert_ne!(again.nonce, request.nonce);
        assert_ne!(again.pkce_verifier, request.pkce_verifier);
    }
}
