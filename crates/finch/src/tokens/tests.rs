use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

use super::*;

const SECRET: &[u8] = b"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMw==";
const RID: &str = "rid:finch:0123456789abcdef:agent:6f1f7a2e-8c1e-4d0b-9a55-0d7b8f3c2a11";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("valid timestamp")
}

fn key() -> TokenKey {
    TokenKey::new(SECRET)
}

/// Signs arbitrary header and claims JSON with `secret` the way any HS256 library would.
fn forge(header: &str, claims: &str, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn agent_claims(exp: i64) -> String {
    format!(r#"{{"exp":{exp},"iat":1,"iss":"finch","rid":"{RID}","sub":"agent"}}"#)
}

const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[test]
fn agent_token_round_trips_and_lasts_a_year() {
    let minted = key().mint_agent(RID, now());
    assert_eq!(minted.expires_at - now(), Duration::days(365));
    let claims = key()
        .verify_agent(&minted.token, now().unix_timestamp())
        .expect("valid");
    assert_eq!(claims.rid, RID);
    assert_eq!(claims.expires_at, minted.expires_at.unix_timestamp());
}

#[test]
fn agent_token_bytes_match_what_go_mapclaims_produce() {
    // golang-jwt v5 with MapClaims: header {"alg":"HS256","typ":"JWT"}, claims with sorted keys.
    let exp = (now() + AGENT_TOKEN_LIFETIME).unix_timestamp();
    let iat = now().unix_timestamp();
    let expected = forge(
        HS256,
        &format!(r#"{{"exp":{exp},"iat":{iat},"iss":"finch","rid":"{RID}","sub":"agent"}}"#),
        SECRET,
    );
    assert_eq!(key().mint_agent(RID, now()).token, expected);
}

#[test]
fn dashboard_token_bytes_encode_scope_as_a_json_string() {
    let exp = (now() + DEFAULT_DASHBOARD_SESSION).unix_timestamp();
    let iat = now().unix_timestamp();
    let scope = vec!["web-01".to_owned(), RID.to_owned()];
    let expected = forge(
        HS256,
        &format!(
            r#"{{"exp":{exp},"iat":{iat},"iss":"finch","role":"operator","scope":"[\"web-01\",\"{RID}\"]","sub":"dashboard"}}"#
        ),
        SECRET,
    );
    let minted = key().mint_dashboard(Role::Operator, &scope, DEFAULT_DASHBOARD_SESSION, now());
    assert_eq!(minted.token, expected);
    let claims = key()
        .verify_dashboard(&minted.token, now().unix_timestamp())
        .expect("valid");
    assert_eq!(claims.role, Role::Operator);
    assert_eq!(claims.scope, scope);
}

#[test]
fn a_general_jwt_library_accepts_our_tokens_and_we_accept_its_tokens() {
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
    let minted = key().mint_agent(RID, OffsetDateTime::now_utc());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["finch"]);
    let decoded = jsonwebtoken::decode::<serde_json::Value>(
        &minted.token,
        &DecodingKey::from_secret(SECRET),
        &validation,
    )
    .expect("jsonwebtoken validates a Finch token");
    assert_eq!(decoded.claims["rid"], RID);

    let exp = OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let foreign = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"iss": "finch", "sub": "agent", "rid": RID, "iat": 1, "exp": exp}),
        &EncodingKey::from_secret(SECRET),
    )
    .expect("encode");
    let claims = key()
        .verify_agent(&foreign, OffsetDateTime::now_utc().unix_timestamp())
        .expect("valid");
    assert_eq!(claims.rid, RID);
}

#[test]
fn agent_token_refusals() {
    let at = now().unix_timestamp();
    let future = at + 3600;
    let cases: Vec<(&str, String, TokenError)> = vec![
        ("empty", String::new(), TokenError::Malformed),
        ("garbage", "not-a-token".into(), TokenError::Malformed),
        ("four parts", "a.b.c.d".into(), TokenError::Malformed),
        (
            "wrong secret",
            forge(HS256, &agent_claims(future), b"another secret"),
            TokenError::BadSignature,
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
                URL_SAFE_NO_PAD.encode(agent_claims(future))
            ),
            TokenError::UnsupportedAlgorithm,
        ),
        (
            "HS512",
            forge(
                r#"{"alg":"HS512","typ":"JWT"}"#,
                &agent_claims(future),
                SECRET,
            ),
            TokenError::UnsupportedAlgorithm,
        ),
        (
            "crit header",
            forge(
                r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
                &agent_claims(future),
                SECRET,
            ),
            TokenError::Malformed,
        ),
        (
            "missing exp",
            forge(
                HS256,
                &format!(r#"{{"iss":"finch","rid":"{RID}","sub":"agent"}}"#),
                SECRET,
            ),
            TokenError::MissingExpiry,
        ),
        (
            "past exp",
            forge(HS256, &agent_claims(at - 1), SECRET),
            TokenError::Expired,
        ),
        (
            "exp exactly now (no leeway)",
            forge(HS256, &agent_claims(at), SECRET),
            TokenError::Expired,
        ),
        (
            "nbf ahead",
            forge(
                HS256,
                &format!(
                    r#"{{"exp":{future},"nbf":{future},"iss":"finch","rid":"{RID}","sub":"agent"}}"#
                ),
                SECRET,
            ),
            TokenError::NotYetValid,
        ),
        (
            "wrong iss",
            forge(
                HS256,
                &format!(r#"{{"exp":{future},"iss":"other","rid":"{RID}","sub":"agent"}}"#),
                SECRET,
            ),
            TokenError::WrongIssuer,
        ),
        (
            "dashboard token",
            key()
                .mint_dashboard(Role::Admin, &[], DEFAULT_DASHBOARD_SESSION, now())
                .token,
            TokenError::WrongSubject,
        ),
        (
            "missing rid",
            forge(
                HS256,
                &format!(r#"{{"exp":{future},"iss":"finch","sub":"agent"}}"#),
                SECRET,
            ),
            TokenError::MissingRid,
        ),
        (
            "empty rid",
            forge(
                HS256,
                &format!(r#"{{"exp":{future},"iss":"finch","rid":"","sub":"agent"}}"#),
                SECRET,
            ),
            TokenError::MissingRid,
        ),
        (
            "numeric rid",
            forge(
                HS256,
                &format!(r#"{{"exp":{future},"iss":"finch","rid":7,"sub":"agent"}}"#),
                SECRET,
            ),
            TokenError::MissingRid,
        ),
        (
            "claims not json",
            forge(HS256, "not json", SECRET),
            TokenError::Malformed,
        ),
        (
            "oversized",
            forge(
                HS256,
                &format!(
                    r#"{{"exp":{future},"iss":"finch","rid":"{}","sub":"agent"}}"#,
                    "x".repeat(20_000)
                ),
                SECRET,
            ),
            TokenError::Malformed,
        ),
    ];
    for (name, token, expected) in cases {
        assert_eq!(key().verify_agent(&token, at), Err(expected), "case {name}");
    }
}

#[test]
fn tampered_payload_is_refused() {
    let minted = key().mint_agent(RID, now());
    let mut parts: Vec<String> = minted.token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(agent_claims(i64::MAX / 2).replace(RID, "rid:other"));
    assert_eq!(
        key().verify_agent(&parts.join("."), now().unix_timestamp()),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn signatures_of_another_length_are_bad_and_undecodable_ones_malformed() {
    let at = now().unix_timestamp();
    let minted = key().mint_agent(RID, now()).token;
    let (signing_input, signature) = minted.rsplit_once('.').expect("three parts");
    let decoded = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    let resigned = |bytes: &[u8]| format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(bytes));
    let longer = [&decoded[..], b"more"].concat();
    for (name, token, refusal) in [
        (
            "shorter",
            resigned(&decoded[..31]),
            TokenError::BadSignature,
        ),
        ("longer", resigned(&longer), TokenError::BadSignature),
        (
            "much longer",
            resigned(&[0; 4096]),
            TokenError::BadSignature,
        ),
        (
            "empty",
            format!("{signing_input}."),
            TokenError::BadSignature,
        ),
        (
            "not base64url",
            format!("{signing_input}.{signature}+"),
            TokenError::Malformed,
        ),
        (
            "long, not base64url",
            format!("{signing_input}.{}!", "A".repeat(100)),
            TokenError::Malformed,
        ),
    ] {
        assert_eq!(key().verify_agent(&token, at), Err(refusal), "{name}");
    }
}

#[test]
fn claims_too_long_to_decode_on_the_stack_still_verify() {
    let at = now().unix_timestamp();
    let scope: Vec<String> = (0..100)
        .map(|n| format!("rid:finch:agent:{n:04}"))
        .collect();
    let minted = key().mint_dashboard(Role::Viewer, &scope, Duration::hours(1), now());
    let claims = key().verify_dashboard(&minted.token, at).expect("valid");
    assert_eq!(claims.scope, scope);
    let long_rid = format!("{RID}{}", "x".repeat(1000));
    let minted = key().mint_agent(&long_rid, now());
    assert_eq!(
        key().verify_agent(&minted.token, at).map(|c| c.rid),
        Ok(long_rid)
    );
}

#[test]
fn dashboard_scope_forms() {
    let at = now().unix_timestamp();
    let future = at + 60;
    let with_scope = |scope: &str| {
        forge(
            HS256,
            &format!(
                r#"{{"exp":{future},"iss":"finch","role":"viewer","sub":"dashboard"{scope}}}"#
            ),
            SECRET,
        )
    };
    for unrestricted in [
        "",
        r#","scope":"null""#,
        r#","scope":"[]""#,
        r#","scope":"""#,
    ] {
        let claims = key()
            .verify_dashboard(&with_scope(unrestricted), at)
            .expect("valid");
        assert!(claims.scope.is_empty(), "{unrestricted}");
    }
    let claims = key()
        .verify_dashboard(&with_scope(r#","scope":"[\"all\"]""#), at)
        .expect("valid");
    assert_eq!(claims.scope, ["all"]);
    for bad in [r#","scope":"{}""#, r#","scope":["a"]"#, r#","scope":"[1]""#] {
        assert_eq!(
            key().verify_dashboard(&with_scope(bad), at),
            Err(TokenError::InvalidScope),
            "{bad}"
        );
    }
}

#[test]
fn dashboard_refusals() {
    let at = now().unix_timestamp();
    let future = at + 60;
    let bad_role = forge(
        HS256,
        &format!(
            r#"{{"exp":{future},"iss":"finch","role":"root","scope":"[]","sub":"dashboard"}}"#
        ),
        SECRET,
    );
    assert_eq!(
        key().verify_dashboard(&bad_role, at),
        Err(TokenError::InvalidRole)
    );
    let agent = key().mint_agent(RID, now()).token;
    assert_eq!(
        key().verify_dashboard(&agent, at),
        Err(TokenError::WrongSubject)
    );
    let expired = key().mint_dashboard(Role::Admin, &[], Duration::seconds(10), now());
    assert_eq!(
        key().verify_dashboard(&expired.token, at + 10),
        Err(TokenError::Expired)
    );
}

#[test]
fn roles_parse_like_1x() {
    assert_eq!(Role::parse_or_viewer(""), Ok(Role::Viewer));
    assert_eq!(Role::parse_or_viewer("admin"), Ok(Role::Admin));
    assert_eq!(Role::parse_or_viewer("Admin"), Err(RoleError));
    assert!(!Role::Viewer.may_view_tokens());
    assert!(Role::Operator.may_view_tokens() && !Role::Operator.may_download_configs());
    assert!(Role::Admin.may_download_configs());
}

#[test]
fn debug_output_hides_secrets() {
    let minted = key().mint_agent(RID, now());
    assert!(!format!("{minted:?}").contains(&minted.token));
    assert!(!format!("{:?}", key()).contains("c2Vj"));
}

proptest! {
    #[test]
    fn verification_never_panics_on_any_text(token in ".{0,400}") {
        let _ = key().verify_agent(&token, 0);
        let _ = key().verify_dashboard(&token, 0);
    }

    #[test]
    fn verification_never_panics_on_structured_garbage(
        header in "[A-Za-z0-9_-]{0,60}",
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        signature in "[A-Za-z0-9_-]{0,60}",
    ) {
        let token = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(&payload));
        let _ = key().verify_agent(&token, 0);
        let _ = key().verify_dashboard(&token, 0);
    }

    #[test]
    fn signed_arbitrary_claims_never_panic(claims in ".{0,200}") {
        let token = forge(HS256, &claims, SECRET);
        let _ = key().verify_agent(&token, 0);
        let _ = key().verify_dashboard(&token, 0);
    }

    #[test]
    fn minted_agent_tokens_always_verify(rid in "[a-z0-9:-]{1,80}", offset in 0i64..31_000_000) {
        let minted = key().mint_agent(&rid, now());
        let claims = key().verify_agent(&minted.token, now().unix_timestamp() + offset);
        prop_assert_eq!(claims.map(|c| c.rid), Ok(rid));
    }
}
