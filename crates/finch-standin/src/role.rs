//! The roles: where each stand-in listens and what it answers, as the stack's compose file,
//! health checks and Traefik routes expect of the real service.

use std::net::{Ipv4Addr, SocketAddr};

/// A service of the stack that a stand-in plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Grafana: `/grafana/api/health` on :3000, served from the `/grafana` sub-path.
    Grafana,
    /// Loki: `/ready` on :3100; pushes are accepted and dropped.
    Loki,
    /// Mimir: `/ready` and pushes on :8080, answered by Prometheus behind it.
    Mimir,
    /// Pyroscope: `/ready` on :4040; pushes are accepted and dropped.
    Pyroscope,
    /// The server's Alloy: `/-/ready` on 127.0.0.1:12345, as its compose command sets.
    Alloy,
}

// === impl Role ===

impl Role {
    const ALL: [Role; 5] = [
        Role::Grafana,
        Role::Loki,
        Role::Mimir,
        Role::Pyroscope,
        Role::Alloy,
    ];

    /// The role's name, its image's entrypoint argument.
    pub fn name(self) -> &'static str {
        match self {
            Role::Grafana => "grafana",
            Role::Loki => "loki",
            Role::Mimir => "mimir",
            Role::Pyroscope => "pyroscope",
            Role::Alloy => "alloy",
        }
    }

    /// The role called `name`.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }

    /// Every role's name, for the usage line.
    pub fn names() -> String {
        let names: Vec<&str> = Role::ALL.iter().map(|role| role.name()).collect();
        names.join(", ")
    }

    /// Where the real service listens in its container.
    pub fn listen(self) -> SocketAddr {
        let (ip, port) = match self {
            Role::Grafana => (Ipv4Addr::UNSPECIFIED, 3000),
            Role::Loki => (Ipv4Addr::UNSPECIFIED, 3100),
            Role::Mimir => (Ipv4Addr::UNSPECIFIED, 8080),
            Role::Pyroscope => (Ipv4Addr::UNSPECIFIED, 4040),
            Role::Alloy => (Ipv4Addr::LOCALHOST, 12345),
        };
        SocketAddr::from((ip, port))
    }

    /// The path the stack's health check probes.
    pub fn ready_path(self) -> &'static str {
        match self {
            Role::Grafana => "/grafana/api/health",
            Role::Loki | Role::Mimir | Role::Pyroscope => "/ready",
            Role::Alloy => "/-/ready",
        }
    }

    /// The push paths the real service takes from agents, as they arrive after Traefik's
    /// strip-prefix (`docs/forward-auth.md`): the stand-in accepts them with the real
    /// service's success status. Mimir's are forwarded instead ([`crate::mimir`]).
    pub fn push_paths(self) -> &'static [&'static str] {
        match self {
            Role::Loki => &["/loki/api/v1/push", "/api/prom/push", "/otlp/v1/logs"],
            Role::Pyroscope => &["/ingest", "/push.v1.PusherService/Push"],
            Role::Grafana | Role::Mimir | Role::Alloy => &[],
        }
    }

    /// The path prefix under which every GET answers 200 (a page of the stand-in), or `None`.
    pub fn pages(self) -> Option<&'static str> {
        (self == Role::Grafana).then_some("/grafana")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_its_name() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_name("tempo"), None);
    }

    #[test]
    fn roles_listen_where_the_compose_file_probes() {
        assert_eq!(Role::Grafana.listen().port(), 3000);
        assert_eq!(Role::Mimir.listen().port(), 8080);
        assert!(Role::Alloy.listen().ip().is_loopback());
        assert!(!Role::Loki.listen().ip().is_loopback());
    }
}
