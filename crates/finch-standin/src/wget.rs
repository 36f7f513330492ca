//! `wget -q -O /dev/null URL`, as Grafana's compose health check runs it inside the container:
//! a GET of the last `http://` argument, exit 0 on a 2xx answer and 1 otherwise. Every other
//! argument is ignored (the check discards the body anyway).

use std::process::ExitCode;
use std::time::Duration;

/// Longer than any answer of a healthy stand-in, shorter than the health check's 5 s timeout.
const TIMEOUT: Duration = Duration::from_secs(4);

/// Runs the GET; `args` are wget's arguments.
pub fn run(args: &[String]) -> ExitCode {
    let Some(url) = args.iter().rev().find(|arg| arg.starts_with("http://")) else {
        eprintln!("wget (finch-standin): no http:// URL in {args:?}");
        return ExitCode::FAILURE;
    };
    let get = async {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        client.get(url).send().await?.error_for_status()
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(get).map_err(|e| e.to_string()));
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wget (finch-standin): {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
