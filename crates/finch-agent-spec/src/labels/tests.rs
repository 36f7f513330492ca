use super::*;

fn labels(values: &[&str]) -> Result<Vec<String>, InputError> {
    parse_labels(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
}

#[test]
fn keeps_pairs_and_bare_keys_with_trimmed_keys() {
    assert_eq!(
        labels(&[
            "env=prod",
            "  team  =a b ",
            "canary",
            " _x ",
            "k=",
            "k2=a=b"
        ])
        .unwrap(),
        ["env=prod", "team=a b ", "canary", "_x", "k=", "k2=a=b"]
    );
    assert_eq!(labels(&[]).unwrap(), Vec::<String>::new());
}

#[test]
fn values_may_hold_any_text_and_tabs() {
    for value in ["a\"b", "c:\\x", "{{ }}", "ünï cödé", "a\tb", "#x", " "] {
        let label = format!("k={value}");
        assert_eq!(labels(&[&label]).unwrap(), [label.as_str()]);
    }
}

#[test]
fn refuses_keys_that_are_not_label_names() {
    for label in [
        "", "=v", " =v", "1k=v", "k-1=v", "k.x", "kä=v", "a b=c", "k\nx=v",
    ] {
        let err = labels(&[label]).unwrap_err();
        assert_eq!(
            err,
            InputError::LabelKeyInvalid(label.to_owned()),
            "{label:?}"
        );
    }
    assert_eq!(
        labels(&["1k=v"]).unwrap_err().to_string(),
        "label \"1k=v\" has an invalid key: use a letter or '_' followed by letters, digits or '_'"
    );
}

#[test]
fn refuses_reserved_keys() {
    let err = labels(&["__name__=x"]).unwrap_err();
    assert_eq!(
        err,
        InputError::LabelKeyReserved {
            label: "__name__=x".into(),
            key: "__name__".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "label \"__name__=x\" uses the reserved key \"__name__\": keys starting with \"__\" are reserved"
    );
    assert!(labels(&["__"]).is_err());
    assert_eq!(labels(&["_x=1"]).unwrap(), ["_x=1"]);
}

#[test]
fn refuses_keys_finch_sets_itself() {
    for (label, key) in [("host=evil", "host"), (" rid ", "rid"), ("rid=x", "rid")] {
        let err = labels(&[label]).unwrap_err();
        assert_eq!(
            err,
            InputError::LabelKeyBuiltIn {
                label: label.into(),
                key: key.into()
            }
        );
    }
    assert_eq!(
        labels(&["host=evil"]).unwrap_err().to_string(),
        "label \"host=evil\" uses the key \"host\", which finch sets itself: choose another key"
    );
    // Label names are case-sensitive: `Host` is not the external label `host`.
    assert_eq!(labels(&["Host=x"]).unwrap(), ["Host=x"]);
}

#[test]
fn refuses_control_characters_in_values() {
    for label in ["k=a\nb", "k=\u{0}", "k=\r", "k=\u{7f}", "k=\u{85}"] {
        assert_eq!(
            labels(&[label]).unwrap_err(),
            InputError::LabelValueInvalid(label.into()),
            "{label:?}"
        );
    }
    assert_eq!(
        labels(&["k=a\nb"]).unwrap_err().to_string(),
        "label \"k=a\\nb\" has a control character in its value: only tab is allowed"
    );
}

#[test]
fn refuses_duplicate_keys() {
    for set in [
        &["env=a", "env=b"][..],
        &["env", " env=x"],
        &["env=a", "env=a"],
    ] {
        assert_eq!(
            labels(set).unwrap_err(),
            InputError::LabelKeyDuplicate("env".into())
        );
    }
    assert_eq!(
        labels(&["env", "env"]).unwrap_err().to_string(),
        "label key \"env\" is given more than once: give each key once"
    );
}

#[test]
fn refuses_overlong_labels() {
    let label = format!("k={}", "v".repeat(MAX_LABEL_LEN));
    assert!(matches!(
        labels(&[&label]),
        Err(InputError::TooLong {
            field: "label",
            max: MAX_LABEL_LEN,
            ..
        })
    ));
    let longest = format!("k={}", "v".repeat(MAX_LABEL_LEN - 2));
    assert!(labels(&[&longest]).is_ok());
}

#[test]
fn pairs_render_like_1x() {
    assert_eq!(label_pair("a=b=c"), ("a", "b=c"));
    assert_eq!(label_pair("k="), ("k", ""));
    assert_eq!(label_pair("x"), ("x", "true"));
}
