use time::{Duration, OffsetDateTime};

use super::*;
use crate::tokens::Role;

const CURRENT: &[u8] = b"bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ=";
const PREVIOUS: &[u8] = b"b2xkLXNlY3JldC1vbGQtc2VjcmV0LW9sZC1zZWNyZXQ=";
const STRANGER: &[u8] = b"c3RyYW5nZXItc3RyYW5nZXItc3RyYW5nZXItc3RyYW4=";
const RID: &str = "rid:finch:0123456789abcdef:agent:6f1f7a2e-8c1e-4d0b-9a55-0d7b8f3c2a11";

fn issued() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("valid timestamp")
}

/// The grace ends an hour after the tokens were issued.
fn until() -> OffsetDateTime {
    issued() + Duration::hours(1)
}

fn keys() -> AgentKeys {
    AgentKeys::new(TokenKey::new(CURRENT)).with_previous(PREVIOUS, until())
}

fn token(secret: &[u8]) -> String {
    TokenKey::new(secret).mint_agent(RID, issued()).token
}

#[test]
fn current_secret_passes_inside_and_after_the_grace() {
    let token = token(CURRENT);
    for now in [issued(), until(), until() + Duration::days(30)] {
        let claims = keys()
            .verify_agent(&token, now.unix_timestamp())
            .expect("current secret");
        assert_eq!(claims.rid, RID);
    }
}

#[test]
fn previous_secret_passes_until_the_last_second_of_the_grace() {
    let token = token(PREVIOUS);
    for now in [issued(), until() - Duration::seconds(1)] {
        let claims = keys()
            .verify_agent(&token, now.unix_timestamp())
            .expect("inside the grace");
        assert_eq!(claims.rid, RID);
    }
}

#[test]
fn previous_secret_is_refused_from_the_end_of_the_grace() {
    let token = token(PREVIOUS);
    for now in [until(), until() + Duration::days(1)] {
        assert_eq!(
            keys().verify_agent(&token, now.unix_timestamp()),
            Err(TokenError::GraceEnded)
        );
    }
    assert_eq!(TokenError::GraceEnded.as_str(), "previous_secret_expired");
}

#[test]
fn previous_secret_is_refused_when_none_is_configured() {
    let keys = AgentKeys::new(TokenKey::new(CURRENT));
    assert_eq!(
        keys.verify_agent(&token(PREVIOUS), issued().unix_timestamp()),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn a_secret_neither_current_nor_previous_is_a_bad_signature() {
    let token = token(STRANGER);
    for now in [issued(), until() + Duration::days(1)] {
        assert_eq!(
            keys().verify_agent(&token, now.unix_timestamp()),
            Err(TokenError::BadSignature)
        );
    }
}

#[test]
fn previous_secret_tokens_are_still_checked_in_full() {
    let previous = TokenKey::new(PREVIOUS);
    let expired = previous
        .mint_agent(RID, issued() - Duration::days(366))
        .token;
    assert_eq!(
        keys().verify_agent(&expired, issued().unix_timestamp()),
        Err(TokenError::Expired)
    );
    let dashboard = previous
        .mint_dashboard(Role::Admin, &[], Duration::hours(1), issued())
        .token;
    assert_eq!(
        keys().verify_agent(&dashboard, issued().unix_timestamp()),
        Err(TokenError::WrongSubject)
    );
}

#[test]
fn keys_come_from_the_configuration() {
    let mut config = crate::config::FinchConfig::from_json(
        br#"{"created_at":"x","database":"sqlite://finch.db","hostname":"h","id":"i",
            "secret":"bmV3LXNlY3JldC1uZXctc2VjcmV0LW5ldy1zZWNyZXQ="}"#,
        "/x".into(),
    )
    .expect("valid");
    let now = issued().unix_timestamp();
    let keys = AgentKeys::for_config(&config);
    assert!(keys.verify_agent(&token(CURRENT), now).is_ok());
    assert_eq!(
        keys.verify_agent(&token(PREVIOUS), now),
        Err(TokenError::BadSignature)
    );
    config.previous_secret = Some(crate::config::PreviousSecret {
        secret: String::from_utf8(PREVIOUS.to_vec()).expect("text"),
        until: until(),
    });
    let keys = AgentKeys::for_config(&config);
    assert!(keys.verify_agent(&token(PREVIOUS), now).is_ok());
    assert!(!format!("{keys:?}").contains("b2xk"));
}
