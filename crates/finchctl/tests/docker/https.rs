//! HTTPS to a stack's published port, trusting only the stack's own certificate (the rendered
//! `traefik/etc/certs.d/cert.pem`, as finchctl pins it), with the service host as the TLS
//! server name: no `--tls.skip-verify` anywhere. Plain HTTP/1.1 requests, or a gRPC channel
//! (HTTP/2) without a client certificate, as a client that has none would open one.

use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A stack's HTTPS entry as a client sees it.
#[derive(Clone)]
pub struct StackHttps {
    /// The loopback port the host publishes HTTPS on.
    pub port: u16,
    /// The stack's certificate, the only root trusted.
    pub cert_pem: String,
    /// The service host: the TLS server name and the `Host` header.
    pub host: String,
}

/// An answer: the status, the head (status line and headers) and the body as received.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    /// The body, as sent (possibly chunked).
    pub body: String,
}

impl StackHttps {
    /// `method path` with `headers` and `body`, over a new connection.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer, String> {
        let mut tls = self.connect(Vec::new()).await?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(body).await.map_err(|e| e.to_string())?;
        let mut response = Vec::new();
        // Traefik may close without a TLS close_notify; what arrived is the answer.
        let _ = tls.read_to_end(&mut response).await;
        parse(&String::from_utf8_lossy(&response))
    }

    /// A gRPC channel to the published port over TLS (ALPN `h2`), presenting no client
    /// certificate.
    pub async fn grpc_channel(&self) -> Result<tonic::transport::Channel, String> {
        let https = Arc::new(self.clone());
        let connect = tower::service_fn(move |_: http::Uri| {
            let https = https.clone();
            async move {
                let tls = https
                    .connect(vec![b"h2".to_vec()])
                    .await
                    .map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
            }
        });
        tonic::transport::Endpoint::from_shared(format!("http://{}:{}", self.host, self.port))
            .map_err(|e| e.to_string())?
            .origin(
                format!("https://{}:{}", self.host, self.port)
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| e.to_string())?,
            )
            .connect_with_connector(connect)
            .await
            .map_err(|e| e.to_string())
    }

    /// A TLS connection to the published port offering `alpn`, trusting only the stack's
    /// certificate.
    async fn connect(
        &self,
        alpn: Vec<Vec<u8>>,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        let mut roots = rustls::RootCertStore::empty();
        let (_, pem) = x509_parser::pem::parse_x509_pem(self.cert_pem.as_bytes())
            .map_err(|e| format!("the stack's certificate: {e}"))?;
        roots
            .add(rustls::pki_types::CertificateDer::from(pem.contents))
            .map_err(|e| e.to_string())?;
        let mut config = rustls::ClientConfig::builder_with_provider(finchctl::client::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| e.to_string())?;
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Splits an HTTP/1.x response into status, head and body.
pub fn parse(response: &str) -> Result<Answer, String> {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {response:?}"))?;
    Ok(Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}
