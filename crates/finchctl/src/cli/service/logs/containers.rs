//! Which containers `service logs` reads: the services the operator names, with Finch's
//! replicas as the host's compose file runs them (`finch`, `finch-2`, …, `--stack.replicas`).
//!
//! The names are checked twice, as every command parses and then resolves: before connecting,
//! each must be a service or a name a Finch replica can have ([`parse`]); once the library is
//! read, the replicas the stack runs turn them into containers ([`containers`]). So `finch`
//! means every replica, and `finch-3` is refused on a stack of two.

use crate::output::Problem;
use crate::stack::database::MAX_REPLICAS;
use crate::stack::{Replicas, Service};

/// What the operator asked to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// A service: all of its containers (every replica of Finch).
    Service(Service),
    /// One Finch replica by its number (2 for `finch-2`).
    Replica(u8),
}

/// A container whose logs are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// The container's name, which prefixes its lines.
    pub name: String,
    /// The service it runs.
    pub service: Service,
}

/// The names asked for, refusing those no stack has with the names it can have; none means
/// every service.
pub fn parse(names: &[String]) -> Result<Vec<Wanted>, Problem> {
    if names.is_empty() {
        return Ok(Service::ALL.iter().map(|s| Wanted::Service(*s)).collect());
    }
    names
        .iter()
        .map(|name| {
            let service = Service::ALL.iter().find(|s| s.name() == name);
            service
                .map(|s| Wanted::Service(*s))
                .or_else(|| replica_number(name).map(Wanted::Replica))
                .ok_or_else(|| {
                    let known: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
                    Problem::usage(format!(
                        "unknown service {name:?}: the stack's services are {}; finch-2 to finch-{MAX_REPLICAS} name one Finch replica",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// The containers of `wanted` on a stack of `replicas`, each once, in the order asked; a
/// replica the stack does not run is refused, naming the ones it does (`target` is the host).
pub fn containers(
    wanted: &[Wanted],
    replicas: Replicas,
    target: &str,
) -> Result<Vec<Container>, Problem> {
    let mut picked: Vec<Container> = Vec::new();
    for want in wanted {
        let names = match *want {
            Wanted::Service(Service::Finch) => replicas.names(),
            Wanted::Service(service) => vec![service.name().to_owned()],
            Wanted::Replica(n) if n <= replicas.get() => vec![format!("finch-{n}")],
            Wanted::Replica(n) => {
                return Err(Problem::failed(format!(
                    "the stack on {target} runs no finch-{n}: its Finch replicas are {}",
                    replicas.names().join(", ")
                ))
                .hint(format!(
                    "`finchctl service logs {target} finch` shows every replica"
                )));
            }
        };
        let service = match want {
            Wanted::Service(service) => *service,
            Wanted::Replica(_) => Service::Finch,
        };
        for name in names {
            if !picked.iter().any(|c| c.name == name) {
                picked.push(Container { name, service });
            }
        }
    }
    Ok(picked)
}

/// The number of a Finch replica's name (`finch-2` to `finch-8`), as compose names them.
fn replica_number(name: &str) -> Option<u8> {
    let number = name.strip_prefix("finch-")?;
    let n: u8 = number.parse().ok()?;
    ((2..=MAX_REPLICAS).contains(&n) && n.to_string() == number).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(containers: &[Container]) -> Vec<&str> {
        containers.iter().map(|c| c.name.as_str()).collect()
    }

    fn replicas(n: u8) -> Replicas {
        n.to_string().parse().expect("a replica count")
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        for bad in [
            "postgres", "finch-1", "finch-9", "finch-02", "finch-", "hc-loki",
        ] {
            let err = parse(&[bad.into()]).expect_err(bad);
            assert_eq!(
                err.to_string(),
                format!(
                    "unknown service {bad:?}: the stack's services are traefik, finch, grafana, loki, mimir, pyroscope, alloy; finch-2 to finch-8 name one Finch replica"
                )
            );
        }
    }

    #[test]
    fn every_service_with_every_replica_by_default() {
        let all = parse(&[]).expect("all");
        assert_eq!(
            names(&containers(&all, replicas(3), "h").expect("all")),
            [
                "traefik",
                "finch",
                "finch-2",
                "finch-3",
                "grafana",
                "loki",
                "mimir",
                "pyroscope",
                "alloy"
            ]
        );
        let services: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names(&containers(&all, Replicas::ONE, "h").expect("all")),
            services
        );
    }

    #[test]
    fn finch_means_every_replica_and_a_replica_is_named_alone() {
        let asked = parse(&[
            "loki".into(),
            "finch".into(),
            "finch-2".into(),
            "loki".into(),
        ])
        .expect("known");
        let picked = containers(&asked, replicas(2), "h").expect("deployed");
        assert_eq!(names(&picked), ["loki", "finch", "finch-2"]);
        assert_eq!(picked[2].service, Service::Finch);
        let one = containers(
            &parse(&["finch-2".into()]).expect("known"),
            replicas(2),
            "h",
        );
        assert_eq!(names(&one.expect("deployed")), ["finch-2"]);
    }

    #[test]
    fn a_replica_the_stack_does_not_run_is_refused_with_the_ones_it_does() {
        let asked = parse(&["finch-3".into()]).expect("a replica's name");
        let err = containers(&asked, replicas(2), "root@h").expect_err("not deployed");
        assert_eq!(
            err.to_string(),
            "the stack on root@h runs no finch-3: its Finch replicas are finch, finch-2"
        );
    }
}
