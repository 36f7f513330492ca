use super::*;

fn target(value: &str) -> Result<String, InputError> {
    parse_metrics_target(value)
}

#[test]
fn keeps_scheme_userinfo_port_path_and_query() {
    for (given, stored) in [
        (
            "http://127.0.0.1:9100/metrics",
            "http://127.0.0.1:9100/metrics",
        ),
        (
            "https://user:pw@app.example.com:8443/stats?format=prom&x=1",
            "https://user:pw@app.example.com:8443/stats?format=prom&x=1",
        ),
        (
            "HTTP://Node.Example.COM:9100/",
            "http://node.example.com:9100/",
        ),
        ("https://[::1]:9443/m", "https://[::1]:9443/m"),
        ("http://h:80/m", "http://h/m"),
        ("  http://h/m  ", "http://h/m"),
    ] {
        assert_eq!(target(given).unwrap(), stored, "{given:?}");
    }
}

#[test]
fn regression_1x_https_scheme_survives() {
    // 1.x rendered only host and path, so https targets were scraped over http.
    let stored = target("https://secure.example.com:8443/metrics").unwrap();
    assert_eq!(stored, "https://secure.example.com:8443/metrics");
    assert_eq!(Url::parse(&stored).unwrap().scheme(), "https");
}

#[test]
fn does_not_invent_a_path() {
    // `http://h:9100` would serialise as `http://h:9100/` and scrape `/`, not `/metrics`.
    assert_eq!(target("http://h:9100").unwrap(), "http://h:9100");
    assert_eq!(target("http://h:9100?a=b").unwrap(), "http://h:9100?a=b");
    assert_eq!(target("http://u@h#f").unwrap(), "http://u@h#f");
    assert_eq!(target("http://h:9100/").unwrap(), "http://h:9100/");
    assert!(!target_names_path(&target("http://h:9100").unwrap()));
    assert!(target_names_path(&target("http://h:9100/").unwrap()));
    // The stored text parses to the same URL as the input.
    for given in ["http://h:9100", "https://u:p@h?q=1", "http://h/x"] {
        let stored = target(given).unwrap();
        assert_eq!(Url::parse(&stored).unwrap(), Url::parse(given).unwrap());
    }
}

#[test]
fn refuses_other_schemes() {
    let err = target("ftp://h/x").unwrap_err();
    assert_eq!(
        err,
        InputError::MetricsTargetScheme {
            target: "ftp://h/x".into(),
            scheme: "ftp".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "metrics target \"ftp://h/x\" has an unsupported scheme \"ftp\": use http:// or https://"
    );
    assert!(matches!(
        target("localhost:9100"),
        Err(InputError::MetricsTargetScheme { .. })
    ));
    assert!(matches!(
        target("file:///x"),
        Err(InputError::MetricsTargetScheme { .. })
    ));
}

#[test]
fn refuses_what_does_not_parse() {
    for value in [
        "",
        "127.0.0.1:9100",
        "http://",
        "http://h:99999",
        "http://a b/",
    ] {
        let err = target(value).unwrap_err();
        assert!(
            matches!(&err, InputError::MetricsTargetInvalid { target, .. } if target == value),
            "{value:?}: {err:?}"
        );
    }
    assert_eq!(
        target("http://").unwrap_err().to_string(),
        "metrics target \"http://\" is not a valid URL: empty host"
    );
}

#[test]
fn refuses_control_characters() {
    let err = target("http://h/\nx").unwrap_err();
    assert_eq!(
        err,
        InputError::ControlCharacter {
            field: "metrics target",
            value: "http://h/\nx".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "metrics target \"http://h/\\nx\" contains a control character: remove it"
    );
    assert!(target("http://h\t:9100/").is_err());
}

#[test]
fn refuses_overlong_targets() {
    let value = format!("http://h/{}", "a".repeat(MAX_METRICS_TARGET_LEN));
    assert!(matches!(
        target(&value),
        Err(InputError::TooLong {
            field: "metrics target",
            ..
        })
    ));
}

#[test]
fn errors_hide_passwords() {
    let err = target("ftp://admin:s3cret@h/x").unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert!(err.to_string().contains("\"ftp://***@h/x\""), "{err}");
    let err = target("admin:s3cret@h:9100").unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    assert_eq!(without_userinfo("http://h/a@b"), "http://h/a@b");
}

#[test]
fn duplicates_collapse_in_first_order() {
    let given = ["http://b:1", "http://a:1/", "HTTP://B:1", "http://a:1/"].map(String::from);
    assert_eq!(
        parse_metrics_targets(&given).unwrap(),
        ["http://b:1", "http://a:1/"]
    );
}
