//! The HS256 compact-JWT codec and the two token kinds built on it.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::{DecodeSliceError, Engine as _};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use super::claims::{
    AGENT_SUBJECT, AgentClaims, AgentWire, DASHBOARD_SUBJECT, DashboardClaims, DashboardWire,
    ReadClaims, Role,
};
use super::{AGENT_TOKEN_LIFETIME, ISSUER, MintedToken, TokenError};

type HmacSha256 = Hmac<Sha256>;

/// `{"alg":"HS256","typ":"JWT"}` in base64url, the header golang-jwt writes.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Largest token accepted. Finch's own tokens are a few hundred bytes (a dashboard token with a
/// long scope a few KiB); anything larger is refused before any decoding work.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A token's claims are decoded into a buffer of this many bytes on the stack when they fit:
/// every agent token does (about 150 bytes of JSON), so `/auth` allocates nothing to read one.
const INLINE_PAYLOAD: usize = 512;

/// The length of an HMAC-SHA256 signature, decoded on the stack the same way.
const SIGNATURE_LEN: usize = 32;

/// The signing key: the stack secret's raw bytes, keyed into HMAC-SHA256 once.
#[derive(Clone)]
pub struct TokenKey {
    mac: HmacSha256,
}

// === impl TokenKey ===

impl TokenKey {
    /// Keys the HMAC with `secret` as given (1.x uses the base64 *text* of the secret as bytes).
    pub fn new(secret: &[u8]) -> TokenKey {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac = match HmacSha256::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
        };
        TokenKey { mac }
    }

    /// Mints an agent token for `rid`, valid for [`AGENT_TOKEN_LIFETIME`] from `now`.
    pub fn mint_agent(&self, rid: &str, now: OffsetDateTime) -> MintedToken {
        let expires_at = now + AGENT_TOKEN_LIFETIME;
        let claims = AgentWire {
            exp: expires_at.unix_timestamp(),
            iat: now.unix_timestamp(),
            iss: ISSUER,
            rid,
            sub: AGENT_SUBJECT,
        };
        MintedToken {
            token: self.sign(&claims),
            expires_at,
        }
    }

    /// Mints a dashboard token for `role` restricted to `scope` (empty: every agent).
    pub fn mint_dashboard(
        &self,
        role: Role,
        scope: &[String],
        lifetime: Duration,
        now: OffsetDateTime,
    ) -> MintedToken {
        let expires_at = now + lifetime;
        // 1.x encodes an absent scope as `null`; an empty list reads back the same way.
        let scope = match serde_json::to_string(scope) {
            Ok(scope) => scope,
            Err(_) => unreachable!("a list of strings always serialises"),
        };
        let claims = DashboardWire {
            exp: expires_at.unix_timestamp(),
            iat: now.unix_timestamp(),
            iss: ISSUER,
            role: role.as_str(),
            scope: &scope,
            sub: DASHBOARD_SUBJECT,
        };
        MintedToken {
            token: self.sign(&claims),
            expires_at,
        }
    }

    /// Validates an agent token at `now` (Unix seconds).
    pub fn verify_agent(&self, token: &str, now: i64) -> Result<AgentClaims, TokenError> {
        let mut inline = [0; INLINE_PAYLOAD];
        let payload = self.verified_payload(token, &mut inline)?;
        let claims: ReadClaims<'_> =
            serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        let expires_at = check_common(&claims, AGENT_SUBJECT, now)?;
        match claims.rid {
            Some(serde_json::Value::String(rid)) if !rid.is_empty() => {
                Ok(AgentClaims { rid, expires_at })
            }
            _ => Err(TokenError::MissingRid),
        }
    }

    /// Validates a dashboard token at `now` (Unix seconds).
    pub fn verify_dashboard(&self, token: &str, now: i64) -> Result<DashboardClaims, TokenError> {
        let mut inline = [0; INLINE_PAYLOAD];
        let payload = self.verified_payload(token, &mut inline)?;
        let claims: ReadClaims<'_> =
            serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        let expires_at = check_common(&claims, DASHBOARD_SUBJECT, now)?;
        let role = claims
            .role
            .as_deref()
            .ok_or(TokenError::InvalidRole)?
            .parse::<Role>()
            .map_err(|_| TokenError::InvalidRole)?;
        let scope = read_scope(claims.scope)?;
        Ok(DashboardClaims {
            role,
            scope,
            expires_at,
        })
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        let json = match serde_json::to_vec(claims) {
            Ok(json) => json,
            Err(_) => unreachable!("claims of strings and integers always serialise"),
        };
        let mut token = String::with_capacity(HEADER_B64.len() + json.len() * 2 + 48);
        token.push_str(HEADER_B64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&json, &mut token);
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        let signature = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// Checks the header and the signature and returns the decoded claims bytes, in `inline` when
    /// they fit.
    fn verified_payload<'b>(
        &self,
        token: &str,
        inline: &'b mut [u8],
    ) -> Result<Cow<'b, [u8]>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if header != HEADER_B64 {
            check_header(header)?;
        }
        let mut signature_inline = [0; SIGNATURE_LEN];
        let signature = decode(signature, &mut signature_inline)?;
        let mut mac = self.mac.clone();
        mac.update(header.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        decode(payload, inline)
    }
}

/// Decodes base64url `text` into `inline` when it fits there, else into a new vector.
fn decode<'b>(text: &str, inline: &'b mut [u8]) -> Result<Cow<'b, [u8]>, TokenError> {
    match URL_SAFE_NO_PAD.decode_slice(text, inline) {
        Ok(length) => Ok(Cow::Borrowed(&inline[..length])),
        Err(DecodeSliceError::OutputSliceTooSmall) => URL_SAFE_NO_PAD
            .decode(text)
            .map(Cow::Owned)
            .map_err(|_| TokenError::Malformed),
        Err(DecodeSliceError::DecodeError(_)) => Err(TokenError::Malformed),
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// Accepts a header other than the exact one Finch writes only if it says HS256 and asks for no
/// extension this codec does not understand.
fn check_header(header: &str) -> Result<(), TokenError> {
    #[derive(serde::Deserialize)]
    struct Header<'a> {
        #[serde(borrow)]
        alg: Option<std::borrow::Cow<'a, str>>,
        #[serde(default)]
        crit: Option<serde_json::Value>,
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    let header: Header<'_> = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    match header.alg.as_deref() {
        Some("HS256") if header.crit.is_none() => Ok(()),
        Some("HS256") => Err(TokenError::Malformed),
        _ => Err(TokenError::UnsupportedAlgorithm),
    }
}

/// The checks both kinds share: expiry (required, no leeway), not-before, issuer and subject.
/// Returns `exp`.
fn check_common(claims: &ReadClaims<'_>, subject: &str, now: i64) -> Result<i64, TokenError> {
    let exp = claims.exp.ok_or(TokenError::MissingExpiry)?;
    if !exp.is_finite() {
        return Err(TokenError::Malformed);
    }
    // Valid while now < exp, as golang-jwt judges it with zero leeway.
    if now as f64 >= exp {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = claims.nbf
        && (!nbf.is_finite() || (now as f64) < nbf)
    {
        return Err(TokenError::NotYetValid);
    }
    if claims.iss.as_deref() != Some(ISSUER) {
        return Err(TokenError::WrongIssuer);
    }
    if claims.sub.as_deref() != Some(subject) {
        return Err(TokenError::WrongSubject);
    }
    Ok(exp as i64)
}

/// Reads the `scope` claim: a JSON list encoded as a string. `null`, `""` and a missing claim mean
/// every agent, as in 1.x; anything else that is not a list of strings is refused.
fn read_scope(scope: Option<serde_json::Value>) -> Result<Vec<String>, TokenError> {
    match scope {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::String(text)) if text.trim().is_empty() => Ok(Vec::new()),
        Some(serde_json::Value::String(text)) => serde_json::from_str::<Option<Vec<String>>>(&text)
            .map(Option::unwrap_or_default)
            .map_err(|_| TokenError::InvalidScope),
        Some(_) => Err(TokenError::InvalidScope),
    }
}
