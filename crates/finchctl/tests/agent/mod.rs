//! What the agent tests share: the Alloy stand-in (`alloy-stand-in.sh`; Alloy itself is not
//! installable here), a release of it in Alloy's layout (a zip and `SHA256SUMS`), and a
//! [`Mirror`]: a small HTTP server on a given address that serves such a release, standing in
//! for the release server.

#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The pinned version, as the mirror serves it.
pub const VERSION: &str = finchctl::stack::images::ALLOY_VERSION;

/// Where the stand-in is.
pub fn stand_in_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/agent/alloy-stand-in.sh")
}

/// The stand-in's bytes.
pub fn stand_in() -> Vec<u8> {
    std::fs::read(stand_in_path()).unwrap()
}

/// `alloy-<platform>.zip` holding the stand-in under the release's binary name.
pub fn release_zip(platform: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("alloy-{platform}");
    std::fs::write(dir.path().join(&name), stand_in()).unwrap();
    let zip = dir.path().join("release.zip");
    let out = std::process::Command::new("zip")
        .args(["-q", "-j"])
        .arg(&zip)
        .arg(dir.path().join(&name))
        .output()
        .unwrap();
    assert!(out.status.success(), "zip: {out:?}");
    std::fs::read(zip).unwrap()
}

/// The hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A release server on `bind:0` serving `<VERSION>/alloy-linux-amd64.zip` and its
/// `SHA256SUMS`; with `tampered`, the checksum file lists another zip's sum.
pub struct Mirror {
    /// `http://addr:port`: pass as --alloy.mirror.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Mirror {
    pub async fn start(bind: IpAddr, tampered: bool) -> Mirror {
        let zip = release_zip("linux-amd64");
        let sum = if tampered {
            sha256(b"another binary")
        } else {
            sha256(&zip)
        };
        let sums = format!(
            "{sum}  alloy-linux-amd64.zip\n{}  alloy-darwin-arm64.zip\n",
            sha256(b"x")
        );
        let files = Arc::new(vec![
            (format!("/{VERSION}/alloy-linux-amd64.zip"), zip),
            (format!("/{VERSION}/SHA256SUMS"), sums.into_bytes()),
        ]);
        let listener = TcpListener::bind(SocketAddr::new(bind, 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let files = files.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split_whitespace().nth(1).unwrap_or_default();
                    let found = files.iter().find(|(p, _)| p == path).map(|(_, b)| b);
                    let (status, body): (&str, &[u8]) = match found {
                        Some(body) => ("200 OK", body),
                        None => ("404 Not Found", b"not found"),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(body).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Mirror { url, task }
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.task.abort();
    }
}
