//! `finchctl service logs [user@]host [SERVICE...]`: the stack services' own logs over SSH,
//! each line prefixed with its container (coloured by service on a terminal, unless
//! `NO_COLOR`), without logging in to the host. A Finch 2 addition.
//!
//! Finch's replicas are read from the host's compose file, in the round trip that finds the
//! library ([`containers`]): `finch` shows every replica, `finch-2` one.
//!
//! One script on the host runs `docker logs` for each service and tags every line with the
//! service's name; it watches its own stdin and, when that closes (Ctrl-C here, or the
//! connection dropping), kills its whole process group, so nothing is left running on the host
//! (ssh without a terminal forwards no signal).

use std::io::{IsTerminal, Write};

use clap::Args;

use super::on_host::{OnHost, OnHostArgs};
use crate::cli::Context;
use crate::output::Problem;
use crate::stack::Service;
use crate::target::fleet::AnyTarget;
use crate::target::stream::stream;
use crate::target::{Plan, Target};
use containers::Container;

mod containers;

/// The step's name, in a dry run's plan.
const STEP: &str = "Stream the services' logs";

/// `$1` follow (0/1), `$2` tail (`all` or a count), `$3` since (empty or a duration), then the
/// containers. Each `docker logs` runs in the background through a tagger (`sed -u`, or a
/// read loop where sed has no `-u`); the watcher reads fd 3 (the script's stdin) and on its end
/// kills the process group; the script ends when every stream has.
const SCRIPT: &str = r#"follow=$1 tail=$2 since=$3
shift 3
if echo | sed -u p >/dev/null 2>&1; then
  tag() { sed -u "s/^/$1 /"; }
else
  tag() { while IFS= read -r l || [ -n "$l" ]; do printf '%s %s\n' "$1" "$l"; done; }
fi
logs() {
  if [ -n "$since" ]; then set -- --since "$since" "$@"; fi
  if [ "$follow" = 1 ]; then set -- --follow "$@"; fi
  docker logs --tail "$tail" "$@" 2>&1 </dev/null
}
exec 3<&0
pids=
for c; do
  logs "$c" | tag "$c" &
  pids="$pids $!"
done
{ cat <&3 >/dev/null; kill -TERM 0; } </dev/null >/dev/null 2>&1 &
w=$!
exec 3<&-
s=0
for p in $pids; do wait "$p" || s=1; done
kill "$w" 2>/dev/null
exit $s"#;

/// ANSI colours for the prefixes, one per service in [`Service::ALL`]'s order.
const COLOURS: [&str; 7] = ["36", "33", "32", "35", "34", "31", "96"];

/// Flags of `service logs`.
#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// The host, step reporting, the library and the Docker daemon.
    #[command(flatten)]
    pub on: OnHostArgs,
    /// The services to show (default: all): traefik, finch (every replica), grafana, loki,
    /// mimir, pyroscope, alloy, or one Finch replica (finch-2 … finch-8)
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Keep printing new lines until Ctrl-C
    #[arg(long = "follow", short = 'f')]
    pub follow: bool,
    /// Only the last N lines of each service
    #[arg(long = "tail", value_name = "N")]
    pub tail: Option<u64>,
    /// Only lines newer than DURATION (like 10m, 1h30m or 45s)
    #[arg(long = "since", value_name = "DURATION", value_parser = parse_since)]
    pub since: Option<String>,
}

/// Prints the logs.
pub async fn run(args: &LogsArgs, cx: &Context) -> anyhow::Result<()> {
    let wanted = containers::parse(&args.services)?;
    let on = OnHost::read(&args.on, true, cx).await?;
    let replicas = on.library.replicas().unwrap_or_default();
    let containers = containers::containers(&wanted, replicas, &on.target.raw)?;
    let mut script_args = vec![
        if args.follow { "1" } else { "0" }.to_owned(),
        args.tail
            .map_or_else(|| "all".to_owned(), |n| n.to_string()),
        args.since.clone().unwrap_or_default(),
    ];
    script_args.extend(containers.iter().map(|c| c.name.clone()));
    let step = on.docker.script(STEP, SCRIPT, script_args);
    if on.fleet.dry_run {
        let mut plan = Plan::new();
        plan.push(step);
        return on.apply(&plan).await;
    }
    let mut target = AnyTarget::open(on.target.clone(), false, &on.fleet.ssh);
    let identity = target
        .connect()
        .await
        .map_err(|e| Problem::failed(e.to_string()))?;
    let line = step.command_line(identity.root);
    let colour = !cx.env.no_color && std::io::stdout().is_terminal();
    let printer = Printer::new(&containers, colour);
    let mut out = std::io::stdout().lock();
    let result = stream(&target, &line, &cx.cancel, |line| {
        printer.print(&mut out, line)
    })
    .await;
    drop(out);
    target.close().await;
    let ended = result?;
    match ended {
        Some(ended) if !ended.stopped && ended.code != Some(0) => {
            let stderr = String::from_utf8_lossy(&ended.stderr);
            let tail = stderr.lines().rev().take(5).collect::<Vec<_>>();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Err(Problem::failed(format!(
                "the logs on {} ended with {}: {}",
                on.target.raw,
                ended
                    .code
                    .map_or_else(|| "a signal".to_owned(), |c| format!("exit code {c}")),
                tail.join("\n")
            ))
            .hint("check with `finchctl service doctor` that the host runs the stack")
            .into())
        }
        _ => Ok(()),
    }
}

/// `--since`: a Go duration of whole units as docker takes it (`45s`, `10m`, `1h30m`).
fn parse_since(text: &str) -> Result<String, String> {
    let mut digits = 0;
    let mut ok = !text.is_empty();
    for c in text.chars() {
        match c {
            '0'..='9' => digits += 1,
            's' | 'm' | 'h' if digits > 0 => digits = 0,
            _ => ok = false,
        }
    }
    if ok && digits == 0 {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a duration: write whole hours, minutes and seconds like 10m, 1h30m or 45s"
        ))
    }
}

/// Writes tagged lines as `container | text`, the names aligned and coloured by service when
/// asked.
struct Printer<'c> {
    containers: &'c [Container],
    width: usize,
    colour: bool,
}

// === impl Printer ===

impl Printer<'_> {
    fn new(containers: &[Container], colour: bool) -> Printer<'_> {
        Printer {
            containers,
            width: containers.iter().map(|c| c.name.len()).max().unwrap_or(0),
            colour,
        }
    }

    /// Prints one line from the host: `<container> <text>`.
    fn print(&self, out: &mut impl Write, line: &[u8]) -> std::io::Result<()> {
        let line = String::from_utf8_lossy(line);
        let (name, text) = line.split_once(' ').unwrap_or((&line, ""));
        let width = self.width;
        let index = self
            .containers
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| Service::ALL.iter().position(|s| *s == c.service));
        match index.filter(|_| self.colour) {
            Some(i) => writeln!(
                out,
                "\x1b[{}m{name:<width$} |\x1b[0m {text}",
                COLOURS[i % COLOURS.len()]
            ),
            None => writeln!(out, "{name:<width$} | {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_docker_durations() {
        for good in ["45s", "10m", "1h30m", "2h"] {
            assert_eq!(parse_since(good).as_deref(), Ok(good));
        }
        for bad in ["", "10", "m", "1d", "10m;rm", "-5m", "1.5h"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_are_prefixed_and_coloured_only_when_asked() {
        let container = |name: &str, service| Container {
            name: name.to_owned(),
            service,
        };
        let containers = [
            container("loki", Service::Loki),
            container("grafana", Service::Grafana),
            container("finch-2", Service::Finch),
        ];
        let mut plain = Vec::new();
        Printer::new(&containers, false)
            .print(&mut plain, b"loki level=info msg=\"ready\"")
            .expect("write");
        assert_eq!(
            String::from_utf8_lossy(&plain),
            "loki    | level=info msg=\"ready\"\n"
        );
        let mut coloured = Vec::new();
        let printer = Printer::new(&containers, true);
        printer.print(&mut coloured, b"grafana up").expect("write");
        printer
            .print(&mut coloured, b"finch-2 ready")
            .expect("write");
        assert_eq!(
            String::from_utf8_lossy(&coloured),
            "\x1b[32mgrafana |\x1b[0m up\n\x1b[33mfinch-2 |\x1b[0m ready\n"
        );
    }
}
