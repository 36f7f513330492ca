//! `finchctl service deploy` and `update` as a binary: what deploy checks on the host before
//! it changes anything, and the dry-run plans of both as golden files. (Deploys onto a real
//! Docker Engine are in `docker_stack_deploy.rs`.)

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

/// The dry-run `documentation` output of `args`, with what differs between runs (sizes of
/// files holding random values or certificates, this machine's RID) written as `[..]`.
async fn documented(args: &[&str]) -> String {
    let out = Dir::new().run(args).await;
    let stdout = out.ok();
    stdout
        .lines()
        .map(|line| {
            let line = match line.split_once(" upload ") {
                Some((head, tail)) => match tail.split_once(" bytes") {
                    Some((_, rest)) => format!("{head} upload [..] bytes{rest}"),
                    None => line.to_owned(),
                },
                None => line.to_owned(),
            };
            match line.split_once("rid:finchctl:") {
                Some((head, tail)) => {
                    format!("{head}rid:finchctl:[..]{}", &tail[16.min(tail.len())..])
                }
                None => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn assert_golden(actual: String, golden: snapbox::Data) {
    // `SNAPSHOTS=overwrite` rewrites the file; review the diff.
    snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .normalize_paths(false)
        .eq(actual, golden);
}

#[tokio::test]
async fn the_deploy_dry_run_documents_every_step() {
    let actual = documented(&[
        "service",
        "deploy",
        "admin@finch.example.com",
        "--run.dry-run",
        "--run.format",
        "documentation",
        "--docker.host",
        "unix:///run/finch-test/docker.sock",
        "--stack.image-archive",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/README.md"),
    ])
    .await;
    assert_golden(actual, snapbox::file!["golden/deploy_dry_run.txt"]);
}

#[tokio::test]
async fn the_update_dry_run_documents_every_step() {
    let actual = documented(&[
        "service",
        "update",
        "admin@finch.example.com",
        "--run.dry-run",
        "--run.format",
        "documentation",
        "--service.library",
        "/srv/finch",
        "--stack.retention",
        "30d",
    ])
    .await;
    assert_golden(actual, snapbox::file!["golden/update_dry_run.txt"]);
}

#[tokio::test]
async fn a_dry_run_reads_no_archive_it_cannot_find() {
    let out = Dir::new()
        .run(&[
            "service",
            "deploy",
            "h",
            "--run.dry-run",
            "--stack.image-archive",
            "missing.tar",
        ])
        .await;
    out.code(1);
    assert!(
        out.stderr
            .contains("--stack.image-archive: cannot read missing.tar"),
        "{out:#?}"
    );
}
