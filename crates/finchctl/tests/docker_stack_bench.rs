//! The deploy benchmark (figures, not assertions; `bench/run-deploy` runs it and writes the
//! report): a fresh deploy that uploads and loads every image archive, then a repeat with
//! nothing changed, on the same bed as `docker_stack_deploy.rs`. Ignored in the test suite.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed benchmark

mod docker;
mod ssh;
mod stack_bed;

use std::time::Instant;

use stack_bed::Bed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: bench/run-deploy runs it"]
async fn deploy_fresh_with_archives_then_repeat() {
    let Some(bed) = Bed::new() else {
        return;
    };
    // The daemon must lack the images, so the fresh deploy uploads and loads the archives.
    for reference in bed.images.references.values() {
        let _ = docker::command("docker")
            .args(["rmi", "-f", reference])
            .output();
    }
    let clock = Instant::now();
    let fresh = bed.deploy(&[]).await;
    let fresh_s = clock.elapsed().as_secs_f64();
    assert!(
        fresh.stdout.contains("Load the image archive"),
        "{fresh:#?}"
    );
    let before = bed.containers();
    let clock = Instant::now();
    let repeat = bed.deploy(&[]).await;
    let repeat_s = clock.elapsed().as_secs_f64();
    let recreated = bed
        .containers()
        .iter()
        .filter(|(name, id)| before.get(*name) != Some(id))
        .count();
    let uploads = repeat.stdout.matches("\"step\":\"Upload ").count();
    let archive_bytes: u64 = bed
        .images
        .archives
        .iter()
        .map(|a| std::fs::metadata(a).unwrap().len())
        .sum();
    println!(
        "BENCH fresh_deploy_s={fresh_s:.1} repeat_deploy_s={repeat_s:.1} repeat_recreated={recreated} repeat_uploads={uploads} archives={} archive_mib={:.0}",
        bed.images.archives.len(),
        archive_bytes as f64 / 1048576.0
    );
    let teardown = bed.service_command("teardown", &[]).await;
    assert_eq!(teardown.code, Some(0), "{teardown:#?}");
}
