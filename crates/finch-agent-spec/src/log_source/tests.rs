use proptest::prelude::*;

use super::*;

fn parse(entry: &str) -> Result<LogSource, InputError> {
    LogSource::parse(entry)
}

fn file(path: &str) -> LogSource {
    LogSource::File(path.to_owned())
}

fn event(channel: &str) -> LogSource {
    LogSource::Event(channel.to_owned())
}

fn sources(entries: &[&str], node: Node) -> Result<Vec<LogSource>, InputError> {
    let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
    parse_log_sources(&entries, node)
}

// --- input form ---

#[test]
fn journal_and_docker_in_every_spelling() {
    for entry in ["journal://", "journal:", "JOURNAL://", "Journal:"] {
        assert_eq!(parse(entry), Ok(LogSource::Journal), "{entry:?}");
    }
    for entry in ["docker://", "docker:", "DOCKER://", "Docker:"] {
        assert_eq!(parse(entry), Ok(LogSource::Docker), "{entry:?}");
    }
}

#[test]
fn journal_and_docker_take_nothing_after_the_scheme() {
    for entry in ["journal://x", "journal:/", "docker:///", "docker://host"] {
        assert_eq!(
            parse(entry),
            Err(InputError::LogSourceInvalid(entry.into())),
            "{entry:?}"
        );
    }
}

#[test]
fn file_paths_are_taken_literally() {
    for path in [
        "/var/log/syslog",
        "/var/log/app-??.log",
        "/var/log/[abc]*.log",
        "/var/log/{nginx,apache}/*.log",
        "/var/log/#weird#.log",
        "/var/log/100%.log",
        "/var/log/a%20b.log",
        "/var/log/with space/x.log",
        "/srv/**/*.log",
        "/",
        "//server/share/x.log",
        "/C:/not-a-drive",
        "/var/log/ünïcödé.log",
        "C:\\logs\\*.log",
        "C:/logs/x.log",
        "d:\\Program Files\\App\\log?.txt",
    ] {
        assert_eq!(parse(&format!("file://{path}")), Ok(file(path)), "{path:?}");
    }
    assert_eq!(parse("FILE:///x"), Ok(file("/x")));
}

#[test]
fn regression_1x_file_glob_with_question_mark_survives() {
    // 1.x parsed `?` as the start of a query and tailed `/var/log/app-` instead.
    let source = parse("file:///var/log/app-?.log?").unwrap();
    assert_eq!(source, file("/var/log/app-?.log?"));
    assert_eq!(LogSource::from_stored(&source.to_stored()), Ok(source));
}

#[test]
fn file_paths_must_be_absolute() {
    for entry in [
        "file://var/log/x",
        "file://./x",
        "file://~/x.log",
        "file://C:",
        "file://C:x",
        "file://\\\\server\\share",
    ] {
        let err = parse(entry).unwrap_err();
        assert_eq!(err, InputError::FilePathRelative(entry.into()), "{entry:?}");
    }
    assert_eq!(
        parse("file://var/log/x").unwrap_err().to_string(),
        "log source \"file://var/log/x\" has a relative path: use an absolute path such as \
         /var/log/*.log or C:\\logs\\*.log"
    );
}

#[test]
fn file_needs_a_path_and_two_slashes() {
    let err = parse("file://").unwrap_err();
    assert_eq!(err, InputError::FilePathRequired("file://".into()));
    assert_eq!(
        err.to_string(),
        "log source \"file://\" names no file: use file://<absolute path>, e.g. file:///var/log/*.log"
    );
    for entry in ["file:", "file:/var/log/x", "file:var"] {
        assert_eq!(
            parse(entry),
            Err(InputError::LogSourceInvalid(entry.into()))
        );
    }
}

#[test]
fn event_channels_are_taken_literally() {
    for channel in [
        "System",
        "Application",
        "Microsoft-Windows-Sysmon/Operational",
        "Windows PowerShell",
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
        "a:b?c#d%e",
        " leading space",
    ] {
        assert_eq!(
            parse(&format!("event://{channel}")),
            Ok(event(channel)),
            "{channel:?}"
        );
    }
    assert_eq!(parse("EVENT://System"), Ok(event("System")));
}

#[test]
fn regression_1x_event_channel_with_slash_and_spaces_survives() {
    // 1.x kept only the URL host: `Microsoft-Windows-Sysmon`, and dropped names with spaces.
    for channel in ["Microsoft-Windows-Sysmon/Operational", "Windows PowerShell"] {
        let source = parse(&format!("event://{channel}")).unwrap();
        assert_eq!(source, event(channel));
        assert_eq!(LogSource::from_stored(&source.to_stored()), Ok(source));
    }
}

#[test]
fn event_needs_a_channel() {
    let err = parse("event://").unwrap_err();
    assert_eq!(err, InputError::EventChannelRequired("event://".into()));
    assert_eq!(
        err.to_string(),
        "log source \"event://\" names no channel: use event://<channel>, e.g. event://System"
    );
    assert_eq!(
        parse("event:System"),
        Err(InputError::LogSourceInvalid("event:System".into()))
    );
}

#[test]
fn unsupported_scheme_is_named() {
    let err = parse("ftp://x").unwrap_err();
    assert_eq!(
        err,
        InputError::LogSourceScheme {
            entry: "ftp://x".into(),
            scheme: "ftp".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "log source \"ftp://x\" has an unsupported scheme \"ftp\": use journal://, docker://, \
         file://<path> or event://<channel>"
    );
    assert!(matches!(
        parse("syslog://"),
        Err(InputError::LogSourceScheme { .. })
    ));
    assert!(matches!(
        parse("https://x/y"),
        Err(InputError::LogSourceScheme { .. })
    ));
}

#[test]
fn text_without_a_scheme_is_not_a_log_source() {
    for entry in [
        "",
        "journal",
        "/var/log/syslog",
        "C:\\logs\\x.log",
        "://x",
        "1x://y",
    ] {
        assert_eq!(
            parse(entry),
            Err(InputError::LogSourceInvalid(entry.into())),
            "{entry:?}"
        );
    }
    assert_eq!(
        parse("/var/log/syslog").unwrap_err().to_string(),
        "log source \"/var/log/syslog\" is not valid: use journal://, docker://, file://<path> \
         or event://<channel>"
    );
}

#[test]
fn control_characters_are_refused() {
    for entry in [
        "file:///var/log/x\n",
        "file:///var/\u{0}log",
        "file:///a\tb",
        "event://Sys\rtem",
        "event://\u{7f}",
        "event://a\u{85}b",
    ] {
        assert_eq!(
            parse(entry),
            Err(InputError::ControlCharacter {
                field: "log source",
                value: entry.into()
            }),
            "{entry:?}"
        );
    }
    assert_eq!(
        parse("file:///x\ny").unwrap_err().to_string(),
        "log source \"file:///x\\ny\" contains a control character: remove it"
    );
}

#[test]
fn overlong_values_are_refused() {
    let longest = format!("/{}", "a".repeat(MAX_LOG_SOURCE_LEN - 1));
    assert_eq!(parse(&format!("file://{longest}")), Ok(file(&longest)));
    let err = parse(&format!("file://{longest}a")).unwrap_err();
    assert!(matches!(
        err,
        InputError::TooLong {
            field: "log source",
            max: MAX_LOG_SOURCE_LEN,
            ..
        }
    ));
    // The message quotes only the start of the value.
    assert!(err.to_string().len() < 250, "{err}");
    assert!(
        err.to_string()
            .ends_with("is too long: use at most 4096 bytes")
    );
    let err = parse(&format!("event://{}", "x".repeat(MAX_LOG_SOURCE_LEN + 1))).unwrap_err();
    assert!(matches!(err, InputError::TooLong { .. }));
}

#[test]
fn display_is_the_input_form() {
    for (source, shown) in [
        (LogSource::Journal, "journal://"),
        (LogSource::Docker, "docker://"),
        (file("/var/log/a?.log"), "file:///var/log/a?.log"),
        (file("C:\\logs\\x.log"), "file://C:\\logs\\x.log"),
        (event("Windows PowerShell"), "event://Windows PowerShell"),
    ] {
        assert_eq!(source.to_string(), shown);
        assert_eq!(parse(shown), Ok(source));
    }
}

// --- lists and the node cross-check ---

#[test]
fn at_least_one_is_required() {
    let err = sources(&[], Node::Unix).unwrap_err();
    assert_eq!(err, InputError::LogSourcesRequired);
    assert_eq!(err.to_string(), "at least one log source is required");
}

#[test]
fn duplicates_collapse_in_first_order() {
    assert_eq!(
        sources(
            &[
                "file:///b",
                "journal://",
                "file:///a",
                "JOURNAL:",
                "file:///b",
                "journal:"
            ],
            Node::Unix
        ),
        Ok(vec![file("/b"), LogSource::Journal, file("/a")])
    );
}

#[test]
fn one_bad_entry_refuses_the_list() {
    // 1.x dropped the bad entry silently and kept the rest.
    assert_eq!(
        sources(&["journal://", "ftp://x"], Node::Unix),
        Err(InputError::LogSourceScheme {
            entry: "ftp://x".into(),
            scheme: "ftp".into()
        })
    );
}

#[test]
fn node_cross_check() {
    for (entry, node, needs) in [
        ("journal://", Node::Windows, Node::Unix),
        ("docker:", Node::Windows, Node::Unix),
        ("event://System", Node::Unix, Node::Windows),
        ("file://C:\\logs\\x.log", Node::Unix, Node::Windows),
    ] {
        assert_eq!(
            sources(&[entry], node),
            Err(InputError::LogSourceNode {
                entry: entry.into(),
                node,
                needs
            }),
            "{entry:?}"
        );
    }
    assert_eq!(
        sources(&["journal://"], Node::Windows)
            .unwrap_err()
            .to_string(),
        "log source \"journal://\" cannot be used on a windows node: it needs a unix node"
    );
    assert_eq!(
        sources(&["event://System"], Node::Unix)
            .unwrap_err()
            .to_string(),
        "log source \"event://System\" cannot be used on a unix node: it needs a windows node"
    );
    assert!(sources(&["journal://", "docker://", "file:///x"], Node::Unix).is_ok());
    assert!(
        sources(
            &["event://System", "file://C:/x", "file:///x"],
            Node::Windows
        )
        .is_ok()
    );
}

// --- stored form ---

#[test]
fn stored_forms() {
    for (source, stored) in [
        (LogSource::Journal, "journal:"),
        (LogSource::Docker, "docker:"),
        (file("/var/log/syslog"), "file:///var/log/syslog"),
        (file("/var/log/*.log"), "file:///var/log/*.log"),
        (file("/var/log/a b.log"), "file:///var/log/a%20b.log"),
        (file("/var/log/a?#%.log"), "file:///var/log/a%3F%23%25.log"),
        (
            file("/var/log/[ab]{c,d}!.log"),
            "file:///var/log/[ab]{c,d}!.log",
        ),
        (file("/var/log/é"), "file:///var/log/%C3%A9"),
        (file("C:\\logs\\*.log"), "file:///C:%5Clogs%5C*.log"),
        (file("C:/logs/x.log"), "file:///C:/logs/x.log"),
        (file("/C:/x"), "file:///C%3A/x"),
        (file("//srv/x"), "file:////srv/x"),
        (event("System"), "event://System"),
        (
            event("Microsoft-Windows-Sysmon/Operational"),
            "event://Microsoft-Windows-Sysmon%2FOperational",
        ),
        (event("Windows PowerShell"), "event://Windows%20PowerShell"),
        (event("a:b?c#d%e@f"), "event://a%3Ab%3Fc%23d%25e%40f"),
    ] {
        assert_eq!(source.to_stored(), stored, "{source:?}");
        assert_eq!(LogSource::from_stored(stored), Ok(source), "{stored:?}");
    }
}

#[test]
fn legacy_1x_stored_forms_read_back() {
    for (stored, source) in [
        ("journal:", LogSource::Journal),
        ("docker:", LogSource::Docker),
        ("journal://", LogSource::Journal),
        ("docker://", LogSource::Docker),
        ("DOCKER://", LogSource::Docker),
        ("file:///var/log/syslog", file("/var/log/syslog")),
        ("event://System", event("System")),
        ("file:///var/log/a%20b.log", file("/var/log/a b.log")),
        // Go re-serialised these after splitting off a query or fragment or a path: read what
        // the operator typed, not what 1.x tailed.
        ("file:///var/log/app-?.log", file("/var/log/app-?.log")),
        ("file:///var/log/x#1", file("/var/log/x#1")),
        (
            "event://Microsoft-Windows-Sysmon/Operational",
            event("Microsoft-Windows-Sysmon/Operational"),
        ),
        // Go kept a host of a file URL, which is not part of the path.
        ("file://localhost/var/log/x", file("/var/log/x")),
        ("file://var/log/x", file("/log/x")),
        ("file://C:/logs/x.log", file("C:/logs/x.log")),
        ("file:/var/log/x", file("/var/log/x")),
        ("event:System", event("System")),
        ("FILE:///x", file("/x")),
        ("event://caf%C3%A9", event("café")),
    ] {
        assert_eq!(LogSource::from_stored(stored), Ok(source), "{stored:?}");
    }
}

#[test]
fn unreadable_stored_forms() {
    for stored in [
        "",
        "journal",
        "journal:x",
        "journal:/x",
        "docker:///",
        "ftp://x",
        "file://",
        "file:",
        "file://host",
        "file:var",
        "event://",
        "event:",
        "file:///%FF",
    ] {
        assert_eq!(
            LogSource::from_stored(stored),
            Err(StoredFormError(stored.into())),
            "{stored:?}"
        );
    }
    assert_eq!(
        StoredFormError("ftp://x".into()).to_string(),
        "stored log source \"ftp://x\" is not readable"
    );
}

/// What Go's `url.Parse` (1.19) gives for our stored forms, as printed by a small Go program:
/// `url.Path` of files and `url.Host` of events, which 1.x uses. It is the value itself, except
/// for drive paths (a leading `/`, which 1.x never handled) and channels with characters Go
/// refuses in a host (a parse error; see `LogSource::to_stored`).
#[test]
fn go_reads_stored_forms_as_the_value() {
    for (source, stored, go_reads) in [
        (
            file("/var/log/syslog"),
            "file:///var/log/syslog",
            "/var/log/syslog",
        ),
        (file("/a b"), "file:///a%20b", "/a b"),
        (file("/a?b"), "file:///a%3Fb", "/a?b"),
        (file("/a#b"), "file:///a%23b", "/a#b"),
        (file("/a%b"), "file:///a%25b", "/a%b"),
        (file("/a*b"), "file:///a*b", "/a*b"),
        (file("/a[b"), "file:///a[b", "/a[b"),
        (file("/é"), "file:///%C3%A9", "/é"),
        (file("/C:"), "file:///C%3A", "/C:"),
        (file("C:\\a b"), "file:///C:%5Ca%20b", "/C:\\a b"),
        (event("System"), "event://System", "System"),
        (event("a%b"), "event://a%25b", "a%b"),
        (event("a*b"), "event://a*b", "a*b"),
        (event("a~b"), "event://a~b", "a~b"),
        (event("é"), "event://%C3%A9", "é"),
    ] {
        assert_eq!(source.to_stored(), stored);
        assert_eq!(LogSource::from_stored(stored), Ok(source.clone()));
        if let LogSource::File(value) | LogSource::Event(value) = &source {
            let go_value = go_reads.strip_prefix('/').filter(|_| is_drive_path(value));
            assert_eq!(go_value.unwrap_or(go_reads), value);
        }
    }
}

// --- properties ---

/// Characters of valid paths and channels: anything but control characters, with the ones the
/// stored form must escape drawn often.
fn value_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '/', ' ', '?', '#', '%', '*', '[', ']', '{', '}', '!', ':', '\\', '@', '&', '=', '+',
            '"', '<', '>', '|', '`', '^', '~', '.', '-', '_', 'C', 'é', '€', '🦀',
        ]),
        2 => any::<char>().prop_filter("no control characters", |c| !c.is_control()),
    ]
}

fn value_text(min: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(value_char(), min..40).prop_map(|chars| chars.into_iter().collect())
}

fn valid_path() -> impl Strategy<Value = String> {
    prop_oneof![
        value_text(0).prop_map(|rest| format!("/{rest}")),
        (
            prop::char::range('A', 'Z'),
            prop::sample::select(vec!['\\', '/']),
            value_text(0)
        )
            .prop_map(|(drive, sep, rest)| format!("{drive}:{sep}{rest}")),
        prop::char::range('a', 'z').prop_map(|letter| format!("/{letter}:/x")),
    ]
}

fn valid_source() -> impl Strategy<Value = LogSource> {
    prop_oneof![
        Just(LogSource::Journal),
        Just(LogSource::Docker),
        valid_path().prop_map(LogSource::File),
        value_text(1).prop_map(LogSource::Event),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(entry in any::<String>()) {
        let _ = LogSource::parse(&entry);
    }

    #[test]
    fn parse_never_panics_on_source_like_text(
        entry in "(?i)(journal|docker|file|event|ftp|c)?(:|://|:///)?[/a-zA-Z:?#%\\\\ \u{0}\n]{0,12}.{0,8}"
    ) {
        let _ = LogSource::parse(&entry);
        let _ = LogSource::from_stored(&entry);
    }

    #[test]
    fn from_stored_never_panics(value in any::<String>()) {
        let _ = LogSource::from_stored(&value);
    }

    #[test]
    fn parse_log_sources_never_panics(
        entries in prop::collection::vec(any::<String>(), 0..4),
        windows in any::<bool>(),
    ) {
        let node = if windows { Node::Windows } else { Node::Unix };
        let _ = parse_log_sources(&entries, node);
    }

    #[test]
    fn stored_form_round_trips(source in valid_source()) {
        prop_assert_eq!(LogSource::from_stored(&source.to_stored()), Ok(source));
    }

    #[test]
    fn input_form_round_trips(source in valid_source()) {
        prop_assert_eq!(LogSource::parse(&source.to_string()), Ok(source));
    }

    #[test]
    fn valid_paths_and_channels_parse_literally(path in valid_path(), channel in value_text(1)) {
        prop_assert_eq!(LogSource::parse(&format!("file://{path}")), Ok(LogSource::File(path)));
        prop_assert_eq!(
            LogSource::parse(&format!("event://{channel}")),
            Ok(LogSource::Event(channel))
        );
    }

    #[test]
    fn stored_form_is_what_go_accepts(source in valid_source()) {
        let stored = source.to_stored();
        // Go's url.Parse refuses control characters, and would split at `?` and `#`.
        prop_assert!(stored.is_ascii());
        prop_assert!(!stored.contains(['?', '#', ' ']));
        prop_assert!(!stored.chars().any(|c| c.is_ascii_control()));
        if let LogSource::Event(_) = source {
            // After `event://`, only characters Go accepts unescaped in a host, and escapes.
            let host = &stored["event://".len()..];
            prop_assert!(host.chars().all(|c| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=%".contains(c)));
        }
    }
}
