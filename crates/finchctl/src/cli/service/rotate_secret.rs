//! `finchctl service rotate-secret`: replaces the stack's token secret, over SSH.
//!
//! Reads `finch.json` from the host, writes it back with a new `secret` (for
//! `--secret.grace DURATION`, the old one as `previous_secret` until the grace ends, see
//! [`crate::stack::secret`]) and restarts only the Finch containers (`finch`, and with replicas
//! `finch-2`, …, one after the other), waiting for each to be up again. Agents keep pushing with their old tokens during the grace, and are renewed
//! meanwhile with `finchctl agent config` and `agent update`.

use clap::Args;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::on_host::{OnHost, OnHostArgs};
use crate::cli::Context;
use crate::output::Problem;
use crate::stack::finch_json;
use crate::stack::generated::new_secret;
use crate::stack::secret::{self, DEFAULT_GRACE, Grace};
use crate::target::{Plan, Upload};

/// How long the restarted Finch has to come up, in seconds (it opens its database and binds
/// four ports; a minute and more means something is wrong).
const READY_SECONDS: u32 = 120;

/// Waits up to `$1` seconds for container `$2` to be healthy (or running, without a health
/// check); prints its state and fails otherwise.
const WAIT_SCRIPT: &str = r#"i=0 s=
while [ "$i" -lt "$1" ]; do
s=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$2" 2>/dev/null)
case "$s" in healthy|running) exit 0 ;; esac
i=$((i + 1))
sleep 1
done
echo "$2 is ${s:-missing} after $1 seconds; see \`docker logs $2\`" >&2
exit 1"#;

/// Flags of `service rotate-secret`.
#[derive(Debug, Clone, Args)]
pub struct RotateSecretArgs {
    /// The host, step reporting, the library and the Docker daemon.
    #[command(flatten)]
    pub on: OnHostArgs,
    /// How long agent tokens of the old secret keep working: seconds, minutes, hours, days or
    /// weeks (30m, 48h, 7d); 0s ends them at once
    #[arg(long = "secret.grace", value_name = "DURATION", default_value = DEFAULT_GRACE)]
    pub grace: Grace,
}

/// Rotates the secret and restarts Finch.
pub async fn run(args: &RotateSecretArgs, cx: &Context) -> anyhow::Result<()> {
    let on = OnHost::read(&args.on, false, cx).await?;
    let secret = new_secret()?;
    let rotated = secret::rotate(
        on.finch_json(),
        &secret,
        args.grace,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| Problem::failed(e.to_string()))?;
    let mut plan = Plan::new();
    plan.push(crate::target::Step::upload(
        "Write the new secret into finch.json",
        Upload {
            dest: on.docker.path(finch_json::PATH),
            contents: rotated.finch_json.clone().into(),
            mode: 0o400,
            owner: Some("0:0".to_owned()),
        },
    ));
    // One replica after the other: with several, the others serve while one restarts.
    for finch in on.library.replicas().unwrap_or_default().names() {
        plan.push(
            on.docker
                .compose(&format!("Restart Finch ({finch})"), &["restart", &finch]),
        )
        .push(on.docker.script(
            &format!("Wait for Finch ({finch})"),
            WAIT_SCRIPT,
            [READY_SECONDS.to_string(), finch],
        ));
    }
    on.apply(&plan).await?;
    if on.fleet.dry_run {
        return Ok(());
    }
    if rotated.ended_earlier_grace {
        cx.output.warn(
            "an earlier rotation's grace was still running: tokens of the secret before the last one stopped working now",
        );
    }
    let renew = "renew each agent with `finchctl agent config` and `finchctl agent update`";
    match rotated.grace_until {
        Some(until) => {
            let until = until.format(&Rfc3339).unwrap_or_else(|_| until.to_string());
            cx.output.status(
                "Rotated",
                &format!(
                    "the secret of {}; agent tokens of the old one pass until {until}: {renew} before then",
                    on.hostname()?
                ),
            );
        }
        None => {
            cx.output
                .status("Rotated", &format!("the secret of {}", on.hostname()?));
            cx.output.warn(&format!(
                "every agent token and dashboard login of the old secret is refused from now on; {renew} (--secret.grace gives them time)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: RotateSecretArgs,
    }

    fn grace(argv: &[&str]) -> Result<i64, clap::Error> {
        Cli::try_parse_from(argv).map(|c| c.args.grace.duration().whole_seconds())
    }

    #[test]
    fn test_secret_grace() {
        assert_eq!(grace(&["x", "h"]).ok(), Some(0));
        assert_eq!(grace(&["x", "h", "--secret.grace", "30s"]).ok(), Some(30));
        assert_eq!(grace(&["x", "h", "--secret.grace=7d"]).ok(), Some(604_800));
        let err = grace(&["x", "h", "--secret.grace", "soon"]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("is not a grace period")));
    }
}
