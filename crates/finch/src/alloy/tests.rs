//! Golden files of rendered configs (`golden/*.alloy`; rewrite them with `SNAPSHOTS=overwrite
//! cargo test -p finch alloy` and review the diff) and syntax checks with a small Alloy lexer.

use time::macros::datetime;

use super::*;
use crate::agents::{AgentRid, LogSource, Node};

const RID: &str = "rid:finch:0123456789abcdef:agent:6f1c7a52-3f3e-4a4e-9d55-0f9d1b1e2c3a";

fn agent(node: Node, log_sources: Vec<LogSource>) -> Agent {
    Agent {
        rid: AgentRid::parse(RID).expect("rid"),
        hostname: "web-1.example.com".into(),
        node,
        log_sources,
        metrics: false,
        metrics_targets: Vec::new(),
        profiles: false,
        labels: vec!["env=prod".into(), "canary".into()],
        created_at: None,
        registered_at: None,
        last_seen: None,
    }
}

fn token() -> MintedToken {
    MintedToken {
        token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2lnbmF0dXJl".into(),
        expires_at: datetime!(2027-11-23 11:35:00 UTC),
    }
}

/// Compares with a golden file; `SNAPSHOTS=overwrite` rewrites it. Paths are not normalised:
/// the backslashes of Windows paths are content here.
fn golden() -> snapbox::Assert {
    snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .normalize_paths(false)
}

fn rendered(agent: &Agent, skip_verify: bool) -> String {
    rendered_at("https://finch.example.com", agent, skip_verify)
}

/// The config of `agent` for the stack at `service_url`, checked to lex as Alloy.
fn rendered_at(service_url: &str, agent: &Agent, skip_verify: bool) -> String {
    let token = token();
    let text = render(&AlloyConfig {
        agent,
        service_url,
        token: &token,
        skip_verify,
    })
    .expect("renders");
    lex(&text).expect("valid Alloy tokens");
    text
}

#[test]
fn unix_journal_and_docker_with_skip_verify() {
    let agent = agent(Node::Unix, vec![LogSource::Journal, LogSource::Docker]);
    golden().eq(
        rendered(&agent, true),
        snapbox::file!["golden/unix_journal_docker_skip_verify.alloy"],
    );
}

#[test]
fn unix_files_and_metrics_with_http_and_https_targets() {
    let mut agent = agent(
        Node::Unix,
        vec![
            LogSource::File("/var/log/nginx/*.log".into()),
            LogSource::File("/var/log/app/a b.log".into()),
        ],
    );
    agent.metrics = true;
    agent.metrics_targets = vec![
        "http://127.0.0.1:9100".into(),
        "https://app.example.com:8443/stats?format=prom".into(),
        "https://scraper:s%40cret@db.example.com/metrics".into(),
    ];
    golden().eq(
        rendered(&agent, false),
        snapbox::file!["golden/unix_files_metrics.alloy"],
    );
}

#[test]
fn windows_events_files_and_metrics() {
    let mut agent = agent(
        Node::Windows,
        vec![
            LogSource::Event("System".into()),
            LogSource::Event("Microsoft-Windows-Sysmon/Operational".into()),
            LogSource::File(r"C:\ProgramData\app\logs\*.log".into()),
        ],
    );
    agent.metrics = true;
    golden().eq(
        rendered(&agent, true),
        snapbox::file!["golden/windows_events_files_metrics.alloy"],
    );
}

#[test]
fn unix_profiles_without_metrics() {
    let mut agent = agent(Node::Unix, vec![LogSource::Journal]);
    agent.profiles = true;
    agent.labels.clear();
    golden().eq(
        rendered(&agent, false),
        snapbox::file!["golden/unix_profiles.alloy"],
    );
}

#[test]
fn unix_everything() {
    let mut agent = agent(
        Node::Unix,
        vec![
            LogSource::Journal,
            LogSource::Docker,
            LogSource::File("/var/log/syslog".into()),
        ],
    );
    agent.metrics = true;
    agent.profiles = true;
    agent.metrics_targets = vec!["http://localhost:9090/metrics".into()];
    golden().eq(
        rendered(&agent, true),
        snapbox::file!["golden/unix_everything.alloy"],
    );
}

#[test]
fn skip_verify_only_adds_tls_config() {
    let agent = agent(Node::Unix, vec![LogSource::Journal]);
    let on = rendered(&agent, true);
    let off = rendered(&agent, false);
    assert!(on.contains("insecure_skip_verify = true"));
    assert!(!off.contains("tls_config"));
}

/// A label value, host name, file path and event channel written to break out of their strings
/// each stay one string token whose value is exactly the input.
#[test]
fn injection_stays_one_string() {
    let evil = "x\" } evil { \"";
    let mut benign = agent(
        Node::Windows,
        vec![
            LogSource::Event("ok".into()),
            LogSource::File(r"C:\ok".into()),
        ],
    );
    benign.labels = vec!["k=ok".into()];
    let mut hostile = benign.clone();
    hostile.labels = vec![format!("k={evil}")];
    hostile.hostname = format!("h{evil}\n}}");
    hostile.log_sources = vec![
        LogSource::Event(format!("{evil}\\")),
        LogSource::File(format!(r"C:\{evil}")),
    ];
    let good = lex(&rendered(&benign, true)).expect("benign lexes");
    let bad = lex(&rendered(&hostile, true)).expect("hostile lexes");
    assert_eq!(good.len(), bad.len(), "same token structure");
    let mut strings = Vec::new();
    for (g, b) in good.iter().zip(&bad) {
        match (g, b) {
            (Token::Str(g), Token::Str(b)) if g != b => strings.push(b.clone()),
            _ => assert_eq!(g, b),
        }
    }
    assert!(strings.contains(&evil.to_owned()), "{strings:?}");
    assert!(strings.contains(&format!("h{evil}\n}}")), "{strings:?}");
    assert!(strings.contains(&format!("{evil}\\")), "{strings:?}");
    assert!(strings.contains(&format!(r"C:\{evil}")), "{strings:?}");
}

proptest::proptest! {
    /// Whatever text reaches the renderer, the config lexes and each value is one string token.
    #[test]
    fn any_values_stay_strings(
        label in ".*",
        hostname in ".*",
        path in ".*",
        channel in ".*",
    ) {
        let mut agent = agent(
            Node::Windows,
            vec![LogSource::File(path.clone()), LogSource::Event(channel.clone())],
        );
        agent.labels = vec![format!("k={label}")];
        agent.hostname = hostname.clone();
        let token = token();
        let text = render(&AlloyConfig {
            agent: &agent,
            service_url: "https://finch.example.com",
            token: &token,
            skip_verify: true,
        })
        .expect("renders");
        let tokens = lex(&text).map_err(proptest::test_runner::TestCaseError::fail)?;
        for value in [label, hostname, path, channel] {
            proptest::prop_assert!(tokens.contains(&Token::Str(value.clone())), "{value:?}");
        }
    }
}

#[test]
fn a_stack_on_another_https_port_gets_it_in_every_push_url() {
    let mut agent = agent(Node::Unix, vec![LogSource::Journal]);
    agent.metrics = true;
    agent.profiles = true;
    let text = rendered_at("https://finch.example.com:8443", &agent, true);
    let urls: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("url = "))
        .collect();
    assert_eq!(
        urls,
        [
            "\"https://finch.example.com:8443/loki/loki/api/v1/push\"",
            "\"https://finch.example.com:8443/mimir/api/v1/push\"",
            "\"https://finch.example.com:8443/pyroscope\"",
        ]
    );
}

#[test]
fn skip_tls_verify_follows_the_certificate_files() {
    for name in VERIFIABLE_TLS_FILES {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(skip_tls_verify(dir.path()));
        std::fs::write(dir.path().join(name), "x").expect("write");
        assert!(!skip_tls_verify(dir.path()), "{name}");
    }
    assert!(skip_tls_verify(std::path::Path::new(
        "/nonexistent/certs.d"
    )));
}

#[test]
fn corrupt_stored_target_is_an_error() {
    let mut agent = agent(Node::Unix, vec![LogSource::Journal]);
    agent.metrics = true;
    agent.metrics_targets = vec!["ftp://x".into()];
    let token = token();
    let config = AlloyConfig {
        agent: &agent,
        service_url: "https://finch.example.com",
        token: &token,
        skip_verify: false,
    };
    assert_eq!(render(&config), Err(RenderError::Target(TargetError)));
}

/// An Alloy token, as far as these tests need to tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Str(String),
    Number(String),
    Punct(char),
}

/// Splits an Alloy document into tokens, following Alloy's scanner for strings (Go escapes, no
/// raw newline) and comments; fails on anything it does not know and on unbalanced brackets.
fn lex(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut depth: Vec<char> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {}
            '/' if chars.peek().map(|&(_, c)| c) == Some('/') => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let start = at;
                let mut end = None;
                let mut escaped = false;
                for (i, c) in chars.by_ref() {
                    match c {
                        '\n' => return Err(format!("raw newline in string at {start}")),
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            end = Some(i);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let end = end.ok_or(format!("unterminated string at {start}"))?;
                let literal = &text[start..=end];
                let value = escape::tests::unquote(literal)
                    .ok_or(format!("bad string literal {literal}"))?;
                tokens.push(Token::Str(value));
            }
            '{' | '[' | '(' => {
                depth.push(c);
                tokens.push(Token::Punct(c));
            }
            '}' | ']' | ')' => {
                let open = depth.pop().ok_or(format!("unbalanced {c} at {at}"))?;
                if !matches!((open, c), ('{', '}') | ('[', ']') | ('(', ')')) {
                    return Err(format!("{open} closed by {c} at {at}"));
                }
                tokens.push(Token::Punct(c));
            }
            '=' | ',' | '.' => tokens.push(Token::Punct(c)),
            c if c.is_ascii_digit() => {
                let mut number = c.to_string();
                while let Some(&(_, d)) = chars.peek().filter(|(_, d)| d.is_ascii_digit()) {
                    number.push(d);
                    chars.next();
                }
                tokens.push(Token::Number(number));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut ident = c.to_string();
                while let Some(&(_, d)) = chars
                    .peek()
                    .filter(|(_, d)| d.is_alphanumeric() || *d == '_')
                {
                    ident.push(d);
                    chars.next();
                }
                tokens.push(Token::Ident(ident));
            }
            c => return Err(format!("unexpected {c:?} at {at}")),
        }
    }
    if depth.is_empty() {
        Ok(tokens)
    } else {
        Err(format!("unclosed {depth:?}"))
    }
}
