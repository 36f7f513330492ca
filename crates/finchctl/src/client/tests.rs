use super::*;

use rcgen::{CertificateParams, DnType, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server certificate like Traefik's default one: self-signed, CN `TRAEFIK DEFAULT CERT`, a
/// host name nobody dials.
fn traefik_like_cert() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["abc.traefik.default".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "TRAEFIK DEFAULT CERT");
    let cert = params.self_signed(&key).unwrap();
    let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    (cert.der().clone(), key)
}

/// A TLS server on 127.0.0.1:0 that answers each handshake and echoes one byte.
async fn tls_server(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> std::net::SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut byte = [0u8; 1];
                    if tls.read_exact(&mut byte).await.is_ok() {
                        let _ = tls.write_all(&byte).await;
                    }
                }
            });
        }
    });
    addr
}

fn client_credentials() -> (String, String) {
    let creds = crate::mtls::generate(
        "127.0.0.1",
        "rid:finchctl:0000000000000000",
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    (creds.cert_pem, creds.key_pem)
}

fn config(service: String, verification: Verification) -> ConnectConfig {
    let (cert_pem, key_pem) = client_credentials();
    ConnectConfig {
        service,
        cert_pem,
        key_pem,
        verification,
        user_agent: "rid:finchctl:0000000000000000/test".into(),
        timeout: Duration::from_secs(10),
    }
}

/// Handshakes through the same TLS configuration `connect` uses and exchanges a byte.
async fn handshake(config: &ConnectConfig) -> Result<(), String> {
    let address = ServiceAddress::parse(&config.service).unwrap();
    let trust = match &config.verification {
        Verification::WebPki => FinchVerifier::system_roots(provider())?,
        Verification::Pinned(pin) => Trust::Pinned(*pin),
        Verification::Skip => Trust::SkipVerify,
    };
    let verifier = Arc::new(FinchVerifier::new(trust, provider()));
    let tls = tls_config(config, provider(), verifier).map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let tcp = tokio::net::TcpStream::connect((address.host.as_str(), address.port))
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(address.host.clone()).unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"x").await.map_err(|e| e.to_string())?;
    let mut byte = [0u8; 1];
    tls.read_exact(&mut byte).await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::test]
async fn pinned_certificate_is_accepted_without_host_name_check() {
    let (cert, key) = traefik_like_cert();
    let pin = ServerPin::of(&cert);
    let addr = tls_server(cert, key).await;
    let cfg = config(addr.to_string(), Verification::Pinned(pin));
    handshake(&cfg).await.unwrap();
}

#[tokio::test]
async fn a_different_certificate_is_refused_and_explained() {
    let (cert, key) = traefik_like_cert();
    let (other, _) = traefik_like_cert();
    let presented = ServerPin::of(&cert);
    let expected = ServerPin::of(&other);
    let addr = tls_server(cert, key).await;

    let cfg = config(addr.to_string(), Verification::Pinned(expected));
    let err = handshake(&cfg).await.unwrap_err();
    assert!(err.contains("does not match the pinned"), "{err}");

    match connect(&cfg).await {
        Err(ClientError::PinMismatch { service, mismatch }) => {
            assert_eq!(service, addr.to_string());
            assert_eq!(mismatch.expected, expected);
            assert_eq!(mismatch.presented, presented);
        }
        other => panic!("expected a pin mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn self_signed_without_pin_fails_web_pki_but_skip_verify_accepts_it() {
    let (cert, key) = traefik_like_cert();
    let addr = tls_server(cert, key).await;
    let err = handshake(&config(addr.to_string(), Verification::WebPki))
        .await
        .unwrap_err();
    assert!(
        err.contains("invalid peer certificate") || err.contains("no usable root"),
        "{err}"
    );
    handshake(&config(addr.to_string(), Verification::Skip))
        .await
        .unwrap();
}

#[tokio::test]
async fn fetch_server_pin_reports_the_presented_certificate() {
    let (cert, key) = traefik_like_cert();
    let expected = ServerPin::of(&cert);
    let addr = tls_server(cert, key).await;
    let pin = fetch_server_pin(&addr.to_string(), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(pin, expected);
}

#[test]
fn pins_round_trip_and_bad_pins_are_refused() {
    let pin = ServerPin::of(b"abc");
    assert_eq!(pin.to_string().parse::<ServerPin>().unwrap(), pin);
    assert!("sha1/AAAA".parse::<ServerPin>().is_err());
    assert!("sha256/AAAA".parse::<ServerPin>().is_err());
    assert!("sha256/%%%".parse::<ServerPin>().is_err());
}

#[test]
fn service_addresses() {
    let parse = |s| ServiceAddress::parse(s).map(|a| (a.host, a.port));
    assert_eq!(
        parse("finch.example.com").unwrap(),
        ("finch.example.com".into(), 443)
    );
    assert_eq!(
        parse("finch.example.com:8443").unwrap(),
        ("finch.example.com".into(), 8443)
    );
    assert_eq!(parse("::1").unwrap(), ("::1".into(), 443));
    assert_eq!(parse("[::1]").unwrap(), ("::1".into(), 443));
    assert_eq!(
        parse("[2001:db8::1]:444").unwrap(),
        ("2001:db8::1".into(), 444)
    );
    assert!(parse("host:notaport").is_err());
    assert!(parse("").is_err());
    assert!(parse("[::1]x").is_err());
    assert_eq!(
        ServiceAddress::parse("2001:db8::1").unwrap().authority(),
        "[2001:db8::1]:443"
    );
}

#[test]
fn unusable_credentials_name_the_service() {
    let mut cfg = config("finch.example.com".into(), Verification::Skip);
    cfg.key_pem = "garbage".into();
    let verifier = Arc::new(FinchVerifier::new(Trust::SkipVerify, provider()));
    let err = tls_config(&cfg, provider(), verifier)
        .unwrap_err()
        .to_string();
    assert!(err.contains("finch.example.com"), "{err}");
    assert!(err.contains("key"), "{err}");
}
