use proptest::prelude::*;

use super::*;
use crate::LogSource;
use crate::error::{MAX_QUOTED_CHARS, excerpt};

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn valid() -> AgentInput {
    AgentInput {
        hostname: "web-1".into(),
        node: "unix".into(),
        log_sources: strings(&["journal://"]),
        metrics: false,
        metrics_targets: vec![],
        profiles: false,
        labels: vec![],
    }
}

#[test]
fn full_registration_is_normalised() {
    let spec = AgentInput {
        hostname: "  Web-1.Example.COM ".into(),
        node: " UNIX ".into(),
        log_sources: strings(&[
            "journal://",
            "docker:",
            "file:///var/log/nginx/*.log",
            "JOURNAL:",
        ]),
        metrics: true,
        metrics_targets: strings(&["HTTP://127.0.0.1:9100", "https://app:8443/m?x=1"]),
        profiles: true,
        labels: strings(&[" env = prod", "canary"]),
    }
    .into_spec()
    .unwrap();
    assert_eq!(
        spec,
        AgentSpec {
            hostname: "web-1.example.com".into(),
            node: Node::Unix,
            log_sources: vec![
                LogSource::Journal,
                LogSource::Docker,
                LogSource::File("/var/log/nginx/*.log".into()),
            ],
            metrics: true,
            metrics_targets: strings(&["http://127.0.0.1:9100", "https://app:8443/m?x=1"]),
            profiles: true,
            labels: strings(&["env= prod", "canary"]),
        }
    );
}

#[test]
fn windows_registration() {
    let spec = AgentInput {
        node: "Windows".into(),
        log_sources: strings(&[
            "event://Microsoft-Windows-Sysmon/Operational",
            "event://Windows PowerShell",
            "file://C:\\logs\\*.log",
        ]),
        ..valid()
    }
    .into_spec()
    .unwrap();
    assert_eq!(spec.node, Node::Windows);
    assert_eq!(
        spec.log_sources,
        [
            LogSource::Event("Microsoft-Windows-Sysmon/Operational".into()),
            LogSource::Event("Windows PowerShell".into()),
            LogSource::File("C:\\logs\\*.log".into()),
        ]
    );
}

#[test]
fn the_1x_messages_are_kept() {
    let cases = [
        (
            AgentInput {
                hostname: "".into(),
                ..valid()
            },
            "hostname is required",
        ),
        (
            AgentInput {
                hostname: "   ".into(),
                ..valid()
            },
            "hostname is required",
        ),
        (
            AgentInput {
                node: "".into(),
                ..valid()
            },
            "node must be either 'windows' or 'unix'",
        ),
        (
            AgentInput {
                log_sources: vec![],
                ..valid()
            },
            "at least one log source is required",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(input.into_spec().unwrap_err().to_string(), message);
    }
}

#[test]
fn each_field_is_checked() {
    let cases = [
        (
            AgentInput {
                hostname: "web 1".into(),
                ..valid()
            },
            InputError::HostnameInvalid("web 1".into()),
        ),
        (
            AgentInput {
                node: "linux".into(),
                ..valid()
            },
            InputError::NodeInvalid("linux".into()),
        ),
        (
            AgentInput {
                log_sources: strings(&["journal://", "file://x"]),
                ..valid()
            },
            InputError::FilePathRelative("file://x".into()),
        ),
        (
            AgentInput {
                metrics: true,
                metrics_targets: strings(&["ftp://x"]),
                ..valid()
            },
            InputError::MetricsTargetScheme {
                target: "ftp://x".into(),
                scheme: "ftp".into(),
            },
        ),
        (
            AgentInput {
                labels: strings(&["rid=x"]),
                ..valid()
            },
            InputError::LabelKeyBuiltIn {
                label: "rid=x".into(),
                key: "rid".into(),
            },
        ),
    ];
    for (input, err) in cases {
        assert_eq!(input.into_spec(), Err(err));
    }
}

#[test]
fn fields_are_checked_in_order() {
    let everything_wrong = AgentInput {
        hostname: "".into(),
        node: "".into(),
        log_sources: vec![],
        metrics: false,
        metrics_targets: strings(&["x"]),
        profiles: false,
        labels: strings(&["host"]),
    };
    assert_eq!(
        everything_wrong.clone().into_spec(),
        Err(InputError::HostnameRequired)
    );
    assert_eq!(
        AgentInput {
            hostname: "h".into(),
            ..everything_wrong.clone()
        }
        .into_spec(),
        Err(InputError::NodeRequired)
    );
    assert_eq!(
        everything_wrong.into_changes(Node::Unix),
        Err(InputError::LogSourcesRequired)
    );
}

#[test]
fn metrics_targets_need_metrics() {
    let input = AgentInput {
        metrics_targets: strings(&["http://127.0.0.1:9100"]),
        ..valid()
    };
    let err = input.clone().into_spec().unwrap_err();
    assert_eq!(err, InputError::MetricsTargetsNeedMetrics);
    assert_eq!(err.to_string(), "metrics targets need metrics enabled");
    let spec = AgentInput {
        metrics: true,
        ..input
    }
    .into_spec()
    .unwrap();
    assert_eq!(spec.metrics_targets, ["http://127.0.0.1:9100"]);
    // Metrics without targets is the common case.
    assert!(
        AgentInput {
            metrics: true,
            ..valid()
        }
        .into_spec()
        .is_ok()
    );
}

#[test]
fn node_cross_check_on_registration() {
    let err = AgentInput {
        node: "windows".into(),
        ..valid()
    }
    .into_spec()
    .unwrap_err();
    assert_eq!(
        err,
        InputError::LogSourceNode {
            entry: "journal://".into(),
            node: Node::Windows,
            needs: Node::Unix,
        }
    );
    let err = AgentInput {
        log_sources: strings(&["event://System"]),
        ..valid()
    }
    .into_spec()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "log source \"event://System\" cannot be used on a unix node: it needs a windows node"
    );
}

#[test]
fn changes_ignore_hostname_and_node_but_check_against_the_given_node() {
    let input = AgentInput {
        hostname: "not a valid hostname".into(),
        node: "not a node".into(),
        log_sources: strings(&["event://Application"]),
        metrics: true,
        metrics_targets: strings(&["http://h:9182"]),
        profiles: true,
        labels: strings(&["site=ber"]),
    };
    assert_eq!(
        input.clone().into_changes(Node::Windows),
        Ok(AgentChanges {
            log_sources: vec![LogSource::Event("Application".into())],
            metrics: true,
            metrics_targets: strings(&["http://h:9182"]),
            profiles: true,
            labels: strings(&["site=ber"]),
        })
    );
    assert!(matches!(
        input.into_changes(Node::Unix),
        Err(InputError::LogSourceNode { .. })
    ));
}

#[test]
fn changes_apply_every_rule() {
    assert_eq!(
        AgentInput {
            log_sources: vec![],
            ..valid()
        }
        .into_changes(Node::Unix),
        Err(InputError::LogSourcesRequired)
    );
    assert_eq!(
        AgentInput {
            metrics_targets: strings(&["http://h"]),
            ..valid()
        }
        .into_changes(Node::Unix),
        Err(InputError::MetricsTargetsNeedMetrics)
    );
    assert_eq!(
        AgentInput {
            labels: strings(&["a", "a"]),
            ..valid()
        }
        .into_changes(Node::Unix),
        Err(InputError::LabelKeyDuplicate("a".into()))
    );
}

#[test]
fn excerpts_cut_long_values_on_char_boundaries() {
    assert_eq!(excerpt("short"), "short");
    let exact = "é".repeat(MAX_QUOTED_CHARS);
    assert_eq!(excerpt(&exact), exact);
    let long = "é".repeat(MAX_QUOTED_CHARS + 1);
    assert_eq!(excerpt(&long), format!("{exact}…"));
}

#[test]
fn every_message_is_lowercase_and_unpunctuated() {
    let errors = [
        InputError::HostnameRequired,
        InputError::HostnameInvalid("x".into()),
        InputError::NodeRequired,
        InputError::NodeInvalid("x".into()),
        InputError::LogSourcesRequired,
        InputError::LogSourceInvalid("x".into()),
        InputError::LogSourceScheme {
            entry: "x".into(),
            scheme: "x".into(),
        },
        InputError::FilePathRequired("x".into()),
        InputError::FilePathRelative("x".into()),
        InputError::EventChannelRequired("x".into()),
        InputError::LogSourceNode {
            entry: "x".into(),
            node: Node::Unix,
            needs: Node::Windows,
        },
        InputError::MetricsTargetInvalid {
            target: "x".into(),
            reason: "x".into(),
        },
        InputError::MetricsTargetScheme {
            target: "x".into(),
            scheme: "x".into(),
        },
        InputError::MetricsTargetHost("x".into()),
        InputError::MetricsTargetsNeedMetrics,
        InputError::LabelKeyInvalid("x".into()),
        InputError::LabelKeyReserved {
            label: "x".into(),
            key: "x".into(),
        },
        InputError::LabelKeyBuiltIn {
            label: "x".into(),
            key: "x".into(),
        },
        InputError::LabelValueInvalid("x".into()),
        InputError::LabelKeyDuplicate("x".into()),
        InputError::ControlCharacter {
            field: "log source",
            value: "x".into(),
        },
        InputError::TooLong {
            field: "label",
            value: "x".into(),
            max: 1,
        },
    ];
    for err in errors {
        let message = err.to_string();
        assert!(
            message.starts_with(|c: char| c.is_ascii_lowercase()),
            "{message}"
        );
        assert!(!message.ends_with('.'), "{message}");
    }
}

// --- properties ---

fn arbitrary_input() -> impl Strategy<Value = AgentInput> {
    let text = || prop_oneof![any::<String>(), "[ -~]{0,20}", "(?i)(unix|windows| unix )"];
    let source = prop_oneof![
        any::<String>(),
        "(?i)(journal|docker|file|event)(:|://)[ -~]{0,16}",
    ];
    let target = prop_oneof![any::<String>(), "(?i)https?://[ -~]{0,16}"];
    let label = prop_oneof![any::<String>(), "[ -~]{0,12}(=[ -~]{0,8})?"];
    (
        text(),
        text(),
        prop::collection::vec(source, 0..4),
        any::<bool>(),
        prop::collection::vec(target, 0..3),
        any::<bool>(),
        prop::collection::vec(label, 0..3),
    )
        .prop_map(
            |(hostname, node, log_sources, metrics, metrics_targets, profiles, labels)| {
                AgentInput {
                    hostname,
                    node,
                    log_sources,
                    metrics,
                    metrics_targets,
                    profiles,
                    labels,
                }
            },
        )
}

proptest! {
    #[test]
    fn into_spec_never_panics_and_its_output_is_stable(input in arbitrary_input()) {
        if let Ok(spec) = input.into_spec() {
            // Validating the validated input again gives the same spec: normalisation is idempotent.
            prop_assert_eq!(AgentInput::from(spec.clone()).into_spec(), Ok(spec.clone()));
            prop_assert!(!spec.log_sources.is_empty());
            prop_assert_eq!(spec.hostname.to_ascii_lowercase(), spec.hostname.clone());
            for source in &spec.log_sources {
                prop_assert_eq!(&LogSource::from_stored(&source.to_stored()), &Ok(source.clone()));
            }
        }
    }

    #[test]
    fn into_changes_never_panics(input in arbitrary_input(), windows in any::<bool>()) {
        let node = if windows { Node::Windows } else { Node::Unix };
        let _ = input.into_changes(node);
    }

    #[test]
    fn field_parsers_never_panic(value in any::<String>(), values in prop::collection::vec(any::<String>(), 0..3)) {
        let _ = crate::parse_hostname(&value);
        let _ = value.parse::<Node>();
        let _ = crate::parse_metrics_target(&value);
        let _ = crate::target_names_path(&value);
        let _ = crate::parse_label(&value);
        let _ = crate::label_pair(&value);
        let _ = crate::parse_labels(&values);
        let _ = crate::parse_metrics_targets(&values);
        let _ = excerpt(&value);
    }

    #[test]
    fn errors_quote_at_most_a_bounded_excerpt(value in ".{0,2000}") {
        // An escaped character takes at most 10 characters (`\u{10ffff}`).
        let bound = 10 * MAX_QUOTED_CHARS + 300;
        let input = AgentInput { hostname: value.clone(), ..valid() };
        if let Err(err) = input.into_spec() {
            prop_assert!(err.to_string().chars().count() < bound, "{}", err);
        }
        let input = AgentInput { log_sources: vec![value], ..valid() };
        if let Err(err) = input.into_spec() {
            prop_assert!(err.to_string().chars().count() < bound, "{}", err);
        }
    }
}
