//! The dry-run `documentation` plans of `agent deploy` and `agent teardown` for each platform
//! as golden files (`golden/agent_*.txt`; `SNAPSHOTS=overwrite` rewrites them). A dry run
//! never connects, so these need no host: `--agent.platform` says which plan to print.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod support;

use support::Dir;

/// Runs a dry run of `args` in the documentation format and compares the plan it prints (stdout) with `golden`.
async fn assert_plan(args: &[&str], golden: &str) {
    let dir = Dir::new();
    // A fixed config, so the upload's size in the plan is stable.
    std::fs::write(dir.path().join("agent.cfg"), "// an agent config\n").unwrap();
    let mut all = args.to_vec();
    all.extend(["--run.dry-run", "--run.format", "documentation"]);
    let out = dir.run(&all).await;
    out.ok();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(golden);
    snapbox::Assert::new()
        .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
        .normalize_paths(false)
        .eq(
            out.stdout,
            snapbox::Data::read_from(&path, Some(snapbox::data::DataFormat::Text)).raw(),
        );
}

#[tokio::test]
async fn deploy_plan_for_linux_systemd_is_golden() {
    assert_plan(
        &[
            "agent",
            "deploy",
            "deploy@web.example",
            "--agent.config",
            "agent.cfg",
            "--check.ports",
        ],
        "agent_deploy_linux.txt",
    )
    .await;
}

#[tokio::test]
async fn deploy_plan_for_macos_launchd_is_golden() {
    assert_plan(
        &[
            "agent",
            "deploy",
            "admin@mac.example",
            "--agent.config",
            "agent.cfg",
            "--agent.platform",
            "darwin-arm64",
        ],
        "agent_deploy_darwin.txt",
    )
    .await;
}

#[tokio::test]
async fn deploy_plan_for_freebsd_rc_is_golden() {
    assert_plan(
        &[
            "agent",
            "deploy",
            "root@bsd.example",
            "--agent.config",
            "agent.cfg",
            "--agent.platform",
            "freebsd-amd64",
        ],
        "agent_deploy_freebsd.txt",
    )
    .await;
}

#[tokio::test]
async fn teardown_plans_are_golden() {
    assert_plan(
        &[
            "agent",
            "teardown",
            "deploy@web.example",
            "--agent.prefix",
            "/opt/agents/a1",
        ],
        "agent_teardown_linux.txt",
    )
    .await;
    assert_plan(
        &[
            "agent",
            "teardown",
            "admin@mac.example",
            "--agent.platform",
            "darwin-amd64",
        ],
        "agent_teardown_darwin.txt",
    )
    .await;
    assert_plan(
        &[
            "agent",
            "teardown",
            "root@bsd.example",
            "--agent.platform",
            "freebsd-amd64",
        ],
        "agent_teardown_freebsd.txt",
    )
    .await;
}
