//! The `/auth` listener's HTTP/1.1 over raw TCP: heads arriving in pieces, keep-alive and
//! `Connection: close` under HTTP/1.0 and 1.1, query strings, the answer's headers, and every
//! request it must refuse (a body, an oversized head, too many headers, garbage, HTTP/2) or
//! drop (a head trickled in too slowly). See `finch::forward_auth::http1`.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use finch::run::Service;
use finch_testkit::{Library, register};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A running service with one agent (logs only), and that agent's `Authorization` header line.
async fn service_with_agent(library: &Library) -> (Service, String) {
    let service = library.start().await;
    let agent = register(&service, "raw-http-1", false, false).await;
    let authorization = format!("Authorization: {}\r\n", library.bearer(agent.rid.as_str()));
    (service, authorization)
}

/// A Loki push check for `path` as Traefik sends it, with `extra` header lines.
fn check(path: &str, version: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/{version}\r\nHost: finch\r\n{extra}X-Forwarded-Method: POST\r\n\
         X-Forwarded-Uri: /loki/api/v1/push\r\n\r\n"
    )
}

/// A client connection that reads what the server sends.
struct Raw {
    stream: TcpStream,
    received: String,
}

impl Raw {
    async fn connect(address: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(address).await.unwrap(),
            received: String::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Reads until `count` answers have arrived in all (5 s at most) and returns their heads.
    async fn answers(&mut self, count: usize) -> Vec<String> {
        let mut buffer = [0u8; 4096];
        tokio::time::timeout(Duration::from_secs(5), async {
            while self.received.matches("\r\n\r\n").count() < count {
                let read = self.stream.read(&mut buffer).await.unwrap();
                assert!(read > 0, "closed early after:\n{}", self.received);
                self.received
                    .push_str(std::str::from_utf8(&buffer[..read]).unwrap());
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{count} answers within 5 s, got:\n{}", self.received));
        self.received
            .split_terminator("\r\n\r\n")
            .map(str::to_owned)
            .collect()
    }

    /// Whether the server closes the connection within `deadline` (anything it sends first is
    /// kept).
    async fn closed_within(&mut self, deadline: Duration) -> bool {
        let mut buffer = [0u8; 4096];
        tokio::time::timeout(deadline, async {
            loop {
                match self.stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => self
                        .received
                        .push_str(&String::from_utf8_lossy(&buffer[..read])),
                }
            }
        })
        .await
        .is_ok()
    }
}

/// The status line of an answer's head.
fn status(head: &str) -> &str {
    head.lines().next().unwrap_or_default()
}

#[tokio::test]
async fn a_head_arriving_in_pieces_is_answered_once_complete() {
    let library = Library::new();
    let (service, authorization) = service_with_agent(&library).await;
    let request = check("/auth/loki", "1.1", &authorization);
    let mut raw = Raw::connect(service.addresses().auth).await;
    let (first, rest) = request.as_bytes().split_at(10);
    let (middle, last) = rest.split_at(rest.len() - 3);
    for piece in [first, middle, last] {
        raw.send(piece).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answers = raw.answers(1).await;
    assert_eq!(status(&answers[0]), "HTTP/1.1 200 OK");
    service.stop().await;
}

#[tokio::test]
async fn answers_name_the_agent_and_carry_no_body_and_a_date() {
    let library = Library::new();
    let (service, authorization) = service_with_agent(&library).await;
    let mut raw = Raw::connect(service.addresses().auth).await;
    raw.send(check("/auth/loki?from=traefik", "1.1", &authorization).as_bytes())
        .await;
    raw.send(check("/auth/nothing?from=traefik", "1.1", &authorization).as_bytes())
        .await;
    let answers = raw.answers(2).await;
    let allowed: Vec<&str> = answers[0].lines().collect();
    assert_eq!(
        allowed[0], "HTTP/1.1 200 OK",
        "the query string is not the path"
    );
    assert!(
        allowed
            .iter()
            .any(|line| line.starts_with("x-finch-agent: rid:finch:")),
        "{allowed:?}"
    );
    assert!(allowed.contains(&"content-length: 0"), "{allowed:?}");
    let date = allowed
        .iter()
        .find_map(|line| line.strip_prefix("date: "))
        .unwrap();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert!(!answers[0].contains("connection: close"));
    assert_eq!(status(&answers[1]), "HTTP/1.1 404 Not Found");
    service.stop().await;
}

#[tokio::test]
async fn connection_close_and_http_1_0_end_the_connection_after_the_answer() {
    let library = Library::new();
    let (service, authorization) = service_with_agent(&library).await;
    let auth = service.addresses().auth;
    for (version, extra) in [
        ("1.1", "Connection: close\r\n"),
        ("1.0", ""),
        ("1.0", "Connection: upgrade, close\r\n"),
    ] {
        let mut raw = Raw::connect(auth).await;
        raw.send(check("/auth/loki", version, &format!("{authorization}{extra}")).as_bytes())
            .await;
        let answers = raw.answers(1).await;
        assert_eq!(
            status(&answers[0]),
            "HTTP/1.1 200 OK",
            "HTTP/{version} {extra}"
        );
        assert!(answers[0].contains("connection: close"));
        assert!(raw.closed_within(Duration::from_secs(5)).await);
    }

    // HTTP/1.0 asking for keep-alive gets it.
    let mut raw = Raw::connect(auth).await;
    let keep_alive = format!("{authorization}Connection: keep-alive\r\n");
    for _ in 0..2 {
        raw.send(check("/auth/loki", "1.0", &keep_alive).as_bytes())
            .await;
    }
    let answers = raw.answers(2).await;
    assert!(answers.iter().all(|head| status(head) == "HTTP/1.1 200 OK"));
    assert!(!raw.closed_within(Duration::from_millis(200)).await);
    service.stop().await;
}

#[tokio::test]
async fn requests_that_cannot_be_framed_or_trusted_are_refused_and_closed() {
    let library = Library::new();
    let (service, authorization) = service_with_agent(&library).await;
    let auth = service.addresses().auth;
    let many_headers: String = (0..70).map(|n| format!("X-Extra-{n}: {n}\r\n")).collect();
    let long_header = format!("X-Long: {}\r\n", "a".repeat(40 * 1024));
    let cases = [
        (
            check(
                "/auth/loki",
                "1.1",
                &format!("{authorization}Content-Length: 5\r\n"),
            ) + "hello",
            "400 Bad Request",
        ),
        (
            check(
                "/auth/loki",
                "1.1",
                &format!("{authorization}Transfer-Encoding: chunked\r\n"),
            ) + "0\r\n\r\n",
            "400 Bad Request",
        ),
        (
            check(
                "/auth/loki",
                "1.1",
                &format!("{authorization}{many_headers}"),
            ),
            "431 Request Header Fields Too Large",
        ),
        (
            check(
                "/auth/loki",
                "1.1",
                &format!("{authorization}{long_header}"),
            ),
            "431 Request Header Fields Too Large",
        ),
        ("NOT HTTP AT ALL\r\n\r\n".to_owned(), "400 Bad Request"),
        (
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_owned(),
            "400 Bad Request",
        ),
    ];
    for (request, expected) in cases {
        let mut raw = Raw::connect(auth).await;
        // A refused request closes the connection, and the rest of the stream is never read:
        // a write may then fail, which is no concern here.
        let _ = raw.stream.write_all(request.as_bytes()).await;
        assert!(
            raw.closed_within(Duration::from_secs(5)).await,
            "closed after {expected}"
        );
        assert!(
            raw.received
                .starts_with(&format!("HTTP/1.1 {expected}\r\n")),
            "{expected}: {}",
            raw.received
        );
        assert!(raw.received.contains("connection: close"));
    }

    // An empty body announced as such is no body.
    let mut raw = Raw::connect(auth).await;
    raw.send(
        check(
            "/auth/loki",
            "1.1",
            &format!("{authorization}Content-Length: 0\r\n"),
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(status(&raw.answers(1).await[0]), "HTTP/1.1 200 OK");
    service.stop().await;
}

#[tokio::test]
async fn a_head_trickled_in_past_the_header_read_timeout_is_dropped() {
    let library = Library::new();
    let (service, authorization) = service_with_agent(&library).await;
    let mut raw = Raw::connect(service.addresses().auth).await;
    raw.send(b"GET /auth/loki HTTP/1.1\r\n").await;
    raw.send(authorization.as_bytes()).await;
    // One byte every second: progress, but never a whole head. The server gives a head 10 s.
    let dropped = tokio::time::timeout(Duration::from_secs(25), async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if raw.stream.write_all(b"X").await.is_err()
                || raw.closed_within(Duration::from_millis(1)).await
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        dropped,
        Ok(true),
        "the connection was still open after 20 s"
    );
    assert!(raw.received.is_empty(), "no answer to half a head");
    service.stop().await;
}
