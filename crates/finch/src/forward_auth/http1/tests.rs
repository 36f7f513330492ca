//! The connection's framing, limits and answers. Tests about time run on tokio's paused clock:
//! waits advance it at once, so a limit of seconds costs no wall time and no test races a timer.

use proptest::prelude::*;

use super::*;

/// Answers 200 for `/auth`, 404 for anything else.
struct Plain;

impl Answering for Plain {
    fn answer(
        &self,
        path: &str,
        _: &[httparse::Header<'_>],
        _: SocketAddr,
        _: SystemTime,
    ) -> Answer {
        let status = if path == "/auth" {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        Answer {
            status,
            agent: None,
        }
    }
}

/// A client connected to one connection served with `limits`, and the serving task.
async fn connection(
    limits: Limits,
) -> (
    TcpStream,
    tokio::task::JoinHandle<Result<(), ConnectionError>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let client = TcpStream::connect(address).await.expect("connect");
    let (server, peer) = listener.accept().await.expect("accept");
    let served = tokio::spawn(async move {
        let stop = CancellationToken::new();
        serve_connection(server, peer, &Plain, limits, &stop).await
    });
    (client, served)
}

/// Reads until the server closes the connection; what it sent. The connection's own limits,
/// all shorter than a minute, end it first.
async fn until_closed(client: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), client.read_to_end(&mut received));
    read.await.expect("closed within its limits").expect("read");
    String::from_utf8(received).expect("ASCII")
}

const CHECK: &[u8] = b"GET /auth HTTP/1.1\r\nHost: finch\r\n\r\n";

#[tokio::test(start_paused = true)]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_read_limit() {
    let limits = Limits {
        header_read: Duration::from_millis(200),
        idle: Duration::from_secs(60),
    };
    let (mut client, served) = connection(limits).await;
    assert_eq!(until_closed(&mut client).await, "");
    assert!(matches!(served.await, Ok(Err(ConnectionError::TimedOut))));
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_limit() {
    let limits = Limits {
        header_read: Duration::from_secs(60),
        idle: Duration::from_millis(200),
    };
    let (mut client, served) = connection(limits).await;
    client.write_all(CHECK).await.expect("write");
    let answered = until_closed(&mut client).await;
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    assert!(matches!(served.await, Ok(Err(ConnectionError::TimedOut))));
}

#[tokio::test(start_paused = true)]
async fn a_head_trickling_in_is_dropped_at_the_header_read_limit() {
    let limits = Limits {
        header_read: Duration::from_millis(300),
        idle: Duration::from_secs(60),
    };
    let (mut client, served) = connection(limits).await;
    client
        .write_all(b"GET /auth HTTP/1.1\r\n")
        .await
        .expect("write");
    // A byte every 50 ms (of the paused clock): progress, never a whole head. Writes fail once
    // the server closed.
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if client.write_all(b"X").await.is_err() || served.is_finished() {
            break;
        }
    }
    assert!(matches!(served.await, Ok(Err(ConnectionError::TimedOut))));
}

#[tokio::test(start_paused = true)]
async fn requests_within_the_idle_limit_keep_a_connection_open() {
    let limits = Limits {
        header_read: Duration::from_secs(60),
        idle: Duration::from_secs(1),
    };
    let (mut client, served) = connection(limits).await;
    // 25 requests 100 ms apart (of the paused clock): 2.5 s in all, each well within the idle
    // limit of the last.
    let mut buffer = [0u8; 1024];
    for _ in 0..25 {
        client.write_all(CHECK).await.expect("write");
        let read = client.read(&mut buffer).await.expect("read");
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200 OK\r\n"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!served.is_finished());
    drop(client);
    assert!(matches!(served.await, Ok(Ok(()))));
}

fn header<'a>(name: &'a str, value: &'a [u8]) -> httparse::Header<'a> {
    httparse::Header { name, value }
}

#[test]
fn keep_alive_follows_the_version_and_the_connection_header() {
    assert!(keeps_alive(1, &[]));
    assert!(!keeps_alive(0, &[]));
    assert!(!keeps_alive(1, &[header("Connection", b"close")]));
    assert!(!keeps_alive(1, &[header("connection", b"Upgrade, CLOSE")]));
    assert!(keeps_alive(0, &[header("Connection", b"Keep-Alive")]));
    assert!(!keeps_alive(
        0,
        &[header("Connection", b"keep-alive, close")]
    ));
}

#[test]
fn only_an_empty_content_length_is_not_a_body() {
    assert!(!announces_body(&[]));
    assert!(!announces_body(&[header("Content-Length", b"0")]));
    assert!(!announces_body(&[header("content-length", b" 0 ")]));
    assert!(announces_body(&[header("Content-Length", b"12")]));
    assert!(announces_body(&[header("Content-Length", b"00x")]));
    assert!(announces_body(&[header("Transfer-Encoding", b"chunked")]));
}

#[test]
fn answers_carry_status_agent_length_date_and_close() {
    let mut out = Vec::new();
    let answer = Answer {
        status: StatusCode::OK,
        agent: Some(http::HeaderValue::from_static("rid:finch:svc:agent:x")),
    };
    encode(&answer, true, SystemTime::now(), &mut out);
    refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, &mut out);
    let text = String::from_utf8(out).expect("ASCII");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "HTTP/1.1 200 OK");
    assert_eq!(lines[1], "x-finch-agent: rid:finch:svc:agent:x");
    assert_eq!(lines[2], "content-length: 0");
    let date = lines[3].strip_prefix("date: ").expect("a date");
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert_eq!(lines[4], "");
    assert_eq!(lines[5], "HTTP/1.1 431 Request Header Fields Too Large");
    assert_eq!(lines[6], "content-length: 0");
    assert_eq!(lines[8], "connection: close");
    assert_eq!(&lines[9..], ["", ""]);
}

/// The statuses of the complete HTTP/1.1 responses `out` holds, in order; fails if anything in
/// it is not such a response with an empty body and its length (`content-length: 0`).
fn framed_statuses(mut out: &[u8]) -> Vec<u16> {
    let mut statuses = Vec::new();
    while !out.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut response = httparse::Response::new(&mut headers);
        let length = match response.parse(out) {
            Ok(httparse::Status::Complete(length)) => length,
            other => panic!(
                "not a complete response ({other:?}): {:?}",
                String::from_utf8_lossy(out)
            ),
        };
        assert_eq!(response.version, Some(1));
        let lengths: Vec<&[u8]> = response
            .headers
            .iter()
            .filter(|header| header.name.eq_ignore_ascii_case("content-length"))
            .map(|header| header.value)
            .collect();
        assert_eq!(lengths, [b"0"], "one content-length of 0");
        statuses.push(response.code.unwrap());
        out = &out[length..];
    }
    statuses
}

/// Bytes that are often request-like: pieces of heads (some refused, some not) and noise.
fn request_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"GET /auth HTTP/1.1\r\n".to_vec()),
        Just(b"GET /auth/loki?x=1 HTTP/1.0\r\n".to_vec()),
        Just(b"POST /elsewhere HTTP/1.1\r\n".to_vec()),
        Just(b"Host: finch\r\n".to_vec()),
        Just(b"Connection: close\r\n".to_vec()),
        Just(b"Connection: keep-alive\r\n".to_vec()),
        Just(b"Content-Length: 0\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..16),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Runs `input` through [`next_request`] as a connection does with what it has read: answers
/// until a partial head, a refusal or a request that closes. The requests answered or refused,
/// and the answers.
fn answer_all(input: &[u8]) -> (usize, Vec<u8>) {
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    let (mut consumed, mut requests, mut answers) = (0, 0, Vec::new());
    loop {
        match next_request(&input[consumed..], &Plain, peer, &mut answers) {
            Parsed::Answered { length, keep_alive } => {
                assert!(length > 0, "a request of no bytes would never end the loop");
                consumed += length;
                requests += 1;
                if !keep_alive {
                    break;
                }
            }
            Parsed::Partial => break,
            Parsed::Refused(_) => {
                requests += 1;
                break;
            }
        }
    }
    (requests, answers)
}

proptest! {
    #[test]
    fn any_bytes_get_one_framed_answer_per_request(
        input in prop_oneof![prop::collection::vec(any::<u8>(), 0..4096), request_bytes()]
    ) {
        let (requests, answers) = answer_all(&input);
        prop_assert_eq!(framed_statuses(&answers).len(), requests);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The same through a served connection on loopback: whatever a client sends before it
    /// stops writing, what it reads back is only complete answers.
    #[test]
    fn a_served_connection_answers_only_in_frames(
        input in prop_oneof![prop::collection::vec(any::<u8>(), 0..4096), request_bytes()]
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        let received = runtime.block_on(async {
            let (mut client, served) = connection(Limits::DEFAULT).await;
            client.write_all(&input).await.unwrap();
            // A server that refused already may have closed its side; reading tells the rest.
            let _ = client.shutdown().await;
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.unwrap();
            served.await.unwrap().ok();
            received
        });
        let (requests, _) = answer_all(&input);
        prop_assert_eq!(framed_statuses(&received).len(), requests);
    }
}
