//! `finchctl service deploy` as a binary: what it checks on the host before it changes
//! anything.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod support;

use support::Dir;

/// A PATH with what the target layer's wrapper needs on a host (`sh`, `timeout`, `cat`, `id`)
/// and nothing else, so no Docker: a host that lacks it, on this machine.
fn path_without_docker(dir: &Dir) -> String {
    let bin = dir.path().join("bin-without-docker");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["sh", "timeout", "cat", "id"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap();
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin.to_string_lossy().into_owned()
}

#[tokio::test]
async fn a_host_without_docker_is_refused_with_the_install_hint() {
    let dir = Dir::new();
    let path = path_without_docker(&dir);
    let dir = dir.env("PATH", &path);
    let out = dir.run(&["service", "deploy", "local"]).await;
    out.code(1);
    assert!(
        out.stderr
            .contains("error: Docker is not installed on local"),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("sudo apt-get install docker.io docker-compose"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn past_the_requirements_deploy_is_not_built_yet() {
    let out = Dir::new().run(&["service", "deploy", "local"]).await;
    out.code(2);
    assert!(
        out.stderr
            .contains("error: finchctl service deploy is not built yet"),
        "{out:#?}"
    );
}
