//! The stack as `finchctl service render` writes it, run in the real Docker Engine on the
//! images the tests build (`docker::StackImages`): every container turns healthy, Traefik
//! answers on the published loopback ports with the stack's own certificate and routes to
//! Grafana, Finch's dashboard and, behind ForwardAuth, the signals, and a remote-write push
//! into the Mimir stand-in reaches its Prometheus. The `hc-*` sidecars end on SIGTERM, so a
//! `docker stop` (and `compose down`) never waits for Docker's stop timeout: each exits with
//! status 0, where one that ignored the signal would be killed (137) after the timeout.
//! `docs/tests.md` describes the images.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;
mod support;

use docker::StackImages;
use docker::https::StackHttps;
use docker::stack::{self, ComposeProject};
use finch_testkit::{DEADLINE, eventually, remote_write};
use support::Dir;

const HOST: &str = "finch.example.com";

#[tokio::test]
async fn the_rendered_stack_runs_healthy_on_the_test_images() {
    let started = std::time::Instant::now();
    let Some(images) = StackImages::get() else {
        return;
    };
    eprintln!("images built or found in {:?}", started.elapsed());
    images.load();
    eprintln!("images loaded in {:?}", started.elapsed());
    let dir = Dir::new();
    let (http_port, https_port) = (docker::free_port(), docker::free_port());
    let flags = [
        format!("--service.host={HOST}"),
        format!("--stack.http-port=127.0.0.1:{http_port}"),
        format!("--stack.https-port=127.0.0.1:{https_port}"),
        format!("--stack.images={}", images.images_file.display()),
    ];
    let mut args = vec!["service", "render", "stack"];
    args.extend(flags.iter().map(String::as_str));
    dir.run(&args).await.ok();
    let library = dir.path().join("stack");
    prepare_data_dirs(&library);
    let up = std::time::Instant::now();
    let project = ComposeProject::up(&library, &format!("stack-images-{https_port}"));
    stack::wait_healthy().await;
    eprintln!(
        "compose up to every container healthy in {:?}",
        up.elapsed()
    );

    let https = StackHttps {
        port: https_port,
        cert_pem: std::fs::read_to_string(library.join("traefik/etc/certs.d/cert.pem")).unwrap(),
        host: HOST.to_owned(),
    };
    let status = |method: &'static str, path: &'static str| {
        let https = &https;
        async move {
            https
                .request(method, path, &[], b"")
                .await
                .map(|a| a.status)
        }
    };
    assert_eq!(status("GET", "/grafana/api/health").await, Ok(200));
    assert_eq!(status("GET", "/login").await, Ok(200));
    // Without a token, ForwardAuth refuses every signal before it reaches its backend.
    assert_eq!(status("POST", "/mimir/api/v1/push").await, Ok(401));
    assert_eq!(status("POST", "/loki/loki/api/v1/push").await, Ok(401));
    assert_eq!(status("POST", "/pyroscope/ingest").await, Ok(401));
    let mimir_log = docker::docker(&["logs", "mimir"]);
    assert!(
        !mimir_log.contains("/api/v1/push"),
        "a refused push reached Mimir:\n{mimir_log}"
    );

    // Plain HTTP redirects to HTTPS on the published port.
    let redirect = plain_get(http_port, "/grafana/").await;
    assert!(
        redirect.contains(&format!("Location: https://{HOST}:{https_port}/grafana/")),
        "{redirect}"
    );

    // A push straight into the Mimir stand-in, from inside the stack's network, is stored by
    // Prometheus and read back through Mimir's query path.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = remote_write::write_request("finch_test_pushed", &[("job", "stack")], 7.0, now);
    let push = stack::stack_http(
        "hc-mimir",
        "mimir",
        8080,
        ("POST", "/api/v1/push"),
        &remote_write::HEADERS,
        &body,
    );
    assert_eq!(push.status, 204, "{push:?}");
    let stored = eventually(DEADLINE, || async {
        let answer = stack::stack_http(
            "hc-mimir",
            "mimir",
            8080,
            ("GET", "/prometheus/api/v1/query?query=finch_test_pushed"),
            &[],
            b"",
        );
        let json: serde_json::Value = serde_json::from_str(&answer.body).ok()?;
        json["data"]["result"][0]["value"][1]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert_eq!(stored.as_deref(), Some("7"));

    let sidecars = ["hc-loki", "hc-mimir", "hc-pyroscope"];
    let mut stop = vec!["stop"];
    stop.extend(sidecars);
    docker::docker(&stop);
    let mut inspect = vec!["inspect", "--format", "{{.Name}} {{.State.ExitCode}}"];
    inspect.extend(sidecars);
    assert_eq!(
        docker::docker(&inspect),
        "/hc-loki 0\n/hc-mimir 0\n/hc-pyroscope 0\n",
        "the sidecars end on SIGTERM, not by SIGKILL after the stop timeout"
    );

    let down = std::time::Instant::now();
    drop(project);
    eprintln!("compose down in {:?}", down.elapsed());
}

/// The data directories deploy creates, owned by the user the storage containers run as
/// (the Mimir stand-in's Prometheus writes there).
fn prepare_data_dirs(library: &std::path::Path) {
    for service in ["loki", "mimir", "pyroscope"] {
        let data = library.join(service).join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::os::unix::fs::chown(&data, Some(10001), Some(10001)).unwrap();
    }
}

/// A GET over plain HTTP on the published port: the response's head.
async fn plain_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
}
