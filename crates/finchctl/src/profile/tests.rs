use super::*;

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n";

fn stack(name: &str) -> Stack {
    Stack {
        name: name.into(),
        cert_pem: CERT.into(),
        key_pem: KEY.into(),
        server_pin: None,
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn locate_prefers_finch_config_then_home() {
    let p = Profile::locate(Some(Path::new("/cfg")), Some(Path::new("/home/u"))).unwrap();
    assert_eq!(p, Path::new("/cfg/finch.json"));
    let p = Profile::locate(None, Some(Path::new("/home/u"))).unwrap();
    assert_eq!(p, Path::new("/home/u/.config/finch.json"));
    assert!(matches!(
        Profile::locate(None, None),
        Err(ProfileError::NoLocation)
    ));
}

#[test]
fn reads_a_file_as_1x_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finch.json");
    // Go's json.MarshalIndent output of 1.x's config, with an entry lacking a key.
    let text = format!(
        "{{\n  \"stacks\": [\n    {{\n      \"name\": \"finch.example.com\",\n      \"cert\": \"{}\",\n      \"key\": \"{}\"\n    }},\n    {{\n      \"name\": \"other\"\n    }}\n  ]\n}}",
        BASE64.encode(CERT),
        BASE64.encode(KEY)
    );
    std::fs::write(&path, text).unwrap();
    let profile = Profile::load(&path).unwrap();
    assert_eq!(profile.names(), ["finch.example.com", "other"]);
    let s = profile.stack("finch.example.com").unwrap().unwrap();
    assert_eq!(s.cert_pem, CERT);
    assert_eq!(s.key_pem, KEY);
    assert_eq!(s.server_pin, None);
    assert!(profile.stack("missing").unwrap().is_none());
}

#[test]
fn writes_1x_shape_with_mode_0600_and_creates_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/config/finch.json");
    let mut profile = Profile::load(&path).unwrap();
    profile.upsert(&stack("finch.example.com"));
    profile.save().unwrap();

    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        value,
        serde_json::json!({ "stacks": [ {
            "name": "finch.example.com",
            "cert": BASE64.encode(CERT),
            "key": BASE64.encode(KEY),
        } ] })
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\n  \"stacks\": [\n"),
        "pretty-printed: {text}"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
    // First write: nothing to back up.
    assert!(!backup_path(&path).exists());
}

#[test]
fn a_change_backs_up_the_previous_file_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finch.json");
    let mut profile = Profile::load(&path).unwrap();
    profile.upsert(&stack("a"));
    profile.save().unwrap();
    let first = std::fs::read(&path).unwrap();

    profile.upsert(&stack("b"));
    profile.save().unwrap();
    let backup = backup_path(&path);
    assert_eq!(std::fs::read(&backup).unwrap(), first);
    #[cfg(unix)]
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(Profile::load(&path).unwrap().names(), ["a", "b"]);
}

#[test]
fn upsert_replaces_by_name_and_appends_and_keeps_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finch.json");
    std::fs::write(
        &path,
        r#"{"stacks":[{"name":"a","cert":"","key":"","future":1},{"name":"b"}],"top":true}"#,
    )
    .unwrap();
    let mut profile = Profile::load(&path).unwrap();
    let mut a = stack("a");
    a.server_pin = Some("sha256/AAAA".into());
    profile.upsert(&a);
    profile.save().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(value["top"], true);
    assert_eq!(value["stacks"][0]["name"], "b");
    assert_eq!(value["stacks"][1]["name"], "a");
    assert_eq!(value["stacks"][1]["future"], 1);
    assert_eq!(value["stacks"][1]["server_pin"], "sha256/AAAA");
    assert!(profile.remove("b"));
    assert!(!profile.remove("b"));
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finch.json");
    let mut profile = Profile::load(&path).unwrap();
    profile.upsert(&stack("a"));
    profile.save().unwrap();
    let before = std::fs::read(&path).unwrap();

    profile.upsert(&stack("b"));
    let err = profile
        .save_with(|f| {
            f.write_all(b"{\"stacks\": [")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["finch.json", "finch.json~"]);
}

#[test]
fn invalid_json_names_the_file_and_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finch.json");
    std::fs::write(&path, "{ not json").unwrap();
    let err = Profile::load(&path).unwrap_err().to_string();
    assert!(err.contains("finch.json:"), "{err}");
    assert!(err.contains("finch.json~"), "{err}");
}

#[test]
fn invalid_base64_names_the_stack_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finch.json");
    std::fs::write(&path, r#"{"stacks":[{"name":"a","cert":"%%%","key":""}]}"#).unwrap();
    let err = Profile::load(&path)
        .unwrap()
        .stack("a")
        .unwrap_err()
        .to_string();
    assert!(err.contains("stack \"a\" has an invalid cert"), "{err}");
}

#[test]
fn debug_never_shows_the_key() {
    let s = stack("a");
    assert!(!format!("{s:?}").contains("PRIVATE"));
}
