//! The Docker Engine the deploy tests run the stack in, checked on its own: an image built
//! `FROM scratch` here and delivered as a `docker save` archive loads, and Debian's
//! `docker-compose` runs it on a user-defined bridge network, with a health check that turns
//! healthy and a port published on loopback.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod docker;

use std::time::{Duration, Instant};

use finch_testkit::TraefikBinary;

/// How long pulling nothing, starting one container and its first health check may take.
const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_scratch_image_runs_healthy_under_compose_on_a_bridge_network() {
    let Some(traefik) = TraefikBinary::find_or_skip() else {
        return;
    };
    let started = Instant::now();
    let (image, archive) = docker::ScratchImage::new("finch-test/traefik")
        .binary(traefik.path(), "/usr/local/bin/traefik")
        .unwrap()
        .entrypoint(&["/usr/local/bin/traefik"])
        .archive(&docker::image_builder())
        .unwrap();
    docker::docker(&["load", "-i", &archive.to_string_lossy()]);
    eprintln!(
        "image {image} built or found and loaded in {:?}",
        started.elapsed()
    );

    let dir = tempfile::tempdir().unwrap();
    let port = docker::free_port();
    let project = format!("engine-{port}");
    let compose = format!(
        r#"services:
  ping:
    image: {image}
    command: ["--entrypoints.web.address=:8080", "--ping=true", "--ping.entrypoint=web"]
    healthcheck:
      test: ["CMD", "/usr/local/bin/traefik", "healthcheck", "--ping=true", "--ping.entrypoint=web", "--entrypoints.web.address=:8080"]
      interval: 1s
      timeout: 5s
      retries: 30
    networks: [finch]
    ports: ["127.0.0.1:{port}:8080"]
networks:
  finch: {{}}
"#
    );
    std::fs::write(dir.path().join("docker-compose.yml"), compose).unwrap();
    let compose = |args: &[&str]| {
        docker::output(
            docker::command("docker-compose")
                .current_dir(dir.path())
                .args(["-p", &project])
                .args(args),
        )
    };
    let up = Instant::now();
    compose(&["up", "-d"]);
    let id = compose(&["ps", "-q", "ping"]).trim().to_owned();
    let healthy = finch_testkit::eventually(DEADLINE, || {
        let id = id.clone();
        async move {
            let status = docker::docker(&["inspect", "-f", "{{.State.Health.Status}}", &id]);
            (status.trim() == "healthy").then_some(())
        }
    })
    .await;
    let network = docker::docker(&[
        "inspect",
        "-f",
        "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}",
        &id,
    ]);
    let ping = tokio::time::timeout(DEADLINE, ping(port)).await;
    compose(&["down", "--timeout", "5"]);
    assert!(healthy.is_some(), "the container never turned healthy");
    eprintln!("compose up to healthy in {:?}", up.elapsed());
    assert_eq!(network.trim(), format!("{project}_finch"));
    assert_eq!(ping.unwrap().as_deref(), Ok("OK"));
}

/// GET /ping on the published port: the body.
async fn ping(port: u16) -> Result<String, String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    tcp.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    tcp.read_to_string(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .ok_or(response)
}
