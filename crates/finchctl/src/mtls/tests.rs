use super::*;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::*;

/// Computed independently with Python:
/// `hmac.new(b"<id>", b"finchctl", hashlib.sha256).hexdigest()[:16]`.
#[test]
fn rid_matches_1x_test_vectors() {
    assert_eq!(
        client_rid("0123456789abcdef0123456789abcdef"),
        "rid:finchctl:b953e167a0d52c13"
    );
    assert_eq!(
        client_rid("3d1219c7c4c5404aaa1f6d2a48adfda4"),
        "rid:finchctl:e3dfd674ccfb583e"
    );
}

#[test]
fn machine_id_is_read_from_the_first_existing_file_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("dbus-machine-id");
    let present = dir.path().join("machine-id");
    std::fs::write(&present, "0123456789abcdef0123456789abcdef\n").unwrap();
    let id = machine_id(&[missing, present]).unwrap();
    assert_eq!(id, "0123456789abcdef0123456789abcdef");
}

#[test]
fn missing_machine_id_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = machine_id(&[dir.path().join("a"), dir.path().join("b")]).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no machine id found"), "{msg}");
    assert!(msg.contains("systemd-machine-id-setup"), "{msg}");
}

#[test]
fn empty_machine_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("machine-id");
    std::fs::write(&path, "  \n").unwrap();
    let err = machine_id(&[path]).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

fn parse(pem_text: &str) -> (Vec<u8>, ()) {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).unwrap();
    (pem.contents, ())
}

fn cn<'a>(cert: &'a X509Certificate<'a>) -> &'a str {
    cert.subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
}

#[test]
fn generated_certificates_follow_the_1x_profile() {
    let now = OffsetDateTime::now_utc();
    let rid = "rid:finchctl:0123456789abcdef";
    let creds = generate("finch.example.com", rid, now).unwrap();

    let (ca_der, ()) = parse(&creds.ca_pem);
    let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
    assert_eq!(cn(&ca), "finch.example.com");
    assert!(ca.is_ca());
    let ku = ca.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign() && ku.digital_signature());
    let lifetime = ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp();
    assert_eq!(lifetime, 90 * 24 * 3600);
    assert_eq!(
        ca.signature_algorithm.algorithm,
        x509_parser::oid_registry::OID_SIG_ECDSA_WITH_SHA256
    );

    let (client_der, ()) = parse(&creds.cert_pem);
    let (_, client) = X509Certificate::from_der(&client_der).unwrap();
    assert_eq!(cn(&client), rid);
    assert!(!client.is_ca());
    assert_eq!(client.issuer(), ca.subject());
    let eku = client.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth);
    assert!(!eku.server_auth);
    let ku = client.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_cert_sign());
    let lifetime =
        client.validity().not_after.timestamp() - client.validity().not_before.timestamp();
    assert_eq!(lifetime, 90 * 24 * 3600);
    // No SANs, like 1.x.
    assert!(!client.extensions().iter().any(|e| matches!(
        e.parsed_extension(),
        ParsedExtension::SubjectAlternativeName(_)
    )));
    // The CA really signed it.
    client.verify_signature(Some(ca.public_key())).unwrap();
    assert_ne!(ca.serial, client.serial);
}

#[test]
fn generated_key_is_sec1_pem_that_rustls_loads() {
    let creds = generate(
        "h",
        "rid:finchctl:0000000000000000",
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert!(
        creds
            .key_pem
            .starts_with("-----BEGIN EC PRIVATE KEY-----\n")
    );
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let key = PrivateKeyDer::from_pem_slice(creds.key_pem.as_bytes()).unwrap();
    assert!(matches!(key, PrivateKeyDer::Sec1(_)));
    let provider = rustls::crypto::ring::default_provider();
    provider.key_provider.load_private_key(key).unwrap();
    assert!(!format!("{creds:?}").contains("PRIVATE KEY"));
}

#[test]
fn expiry_warning_only_within_fourteen_days() {
    let now = OffsetDateTime::now_utc();
    let creds = generate("finch.example.com", "rid:finchctl:0", now).unwrap();
    assert_eq!(
        expiry_warning("finch.example.com", &creds.cert_pem, now),
        None
    );
    let later = now + Duration::days(80);
    let warning = expiry_warning("finch.example.com:8443", &creds.cert_pem, later).unwrap();
    assert!(warning.contains("in 9 days"), "{warning}");
    assert!(
        warning.contains("finchctl service rotate-certificate finch.example.com`"),
        "{warning}"
    );
    let expired = expiry_warning("x", &creds.cert_pem, now + Duration::days(91)).unwrap();
    assert!(expired.contains("expired"), "{expired}");
}

#[test]
fn service_host_strips_ports_and_brackets() {
    assert_eq!(service_host("finch.example.com"), "finch.example.com");
    assert_eq!(service_host("finch.example.com:8443"), "finch.example.com");
    assert_eq!(service_host("[::1]:8443"), "::1");
    assert_eq!(service_host("::1"), "::1");
    assert_eq!(service_host("127.0.0.1:443"), "127.0.0.1");
}

#[test]
fn macos_platform_uuid_is_parsed_from_ioreg() {
    let output = "+-o J316sAP  <class IOPlatformExpertDevice>\n    {\n      \"IOPlatformSerialNumber\" = \"C02\"\n      \"IOPlatformUUID\" = \"3F2504E0-4F89-11D3-9A0C-0305E82C3301\"\n    }\n";
    assert_eq!(
        parse_ioreg_platform_uuid(output).as_deref(),
        Some("3F2504E0-4F89-11D3-9A0C-0305E82C3301")
    );
    assert_eq!(parse_ioreg_platform_uuid("nothing"), None);
}
