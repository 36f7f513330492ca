//! Traefik's static configuration (`traefik.yaml`: entry points, the file provider, Let's
//! Encrypt) and its dynamic one (`conf.d/http.yaml`: routes, middlewares, TLS).
//!
//! The routes are the product's (`/grafana`, `/loki`, `/mimir`, `/pyroscope`, the dashboard's
//! paths, and gRPC on everything else). Each signal's route asks Finch's ForwardAuth at its own
//! address (`/auth/<signal>`, `docs/forward-auth.md`) with `trustForwardHeader: false`, so the
//! `X-Forwarded-*` headers Finch judges are Traefik's own. The gRPC route forwards the client
//! certificate (`passTLSClientCert`, pem) and the proxy secret that Finch requires
//! (`X-Finch-Proxy-Secret`, `docs/configuration.md`), which a client cannot forge because the
//! middleware overwrites the header. `RequestClientCert` sits in the `default` TLS options
//! because options named on a router apply only to rules with a `Host`.
//!
//! With several Finch replicas (`--stack.replicas`), the gRPC and dashboard services list every
//! replica, with Traefik's active health check (`/metrics`, which answers while the process
//! runs: `/healthz` fails while the database is down, when `/auth` must still answer) and its
//! passive one. ForwardAuth takes a single address, so it asks Traefik itself: an entry point on
//! the container's loopback (`127.0.0.1:8083`) routes `/auth` to a service balanced over the
//! replicas, with a retry for a check that met a replica as it stopped. That entry point trusts
//! the forwarded headers coming from the loopback, so the `X-Forwarded-*` headers Finch judges
//! are still those ForwardAuth set, and it appends nothing to `X-Forwarded-For`.

use super::tls::{CERT_PATH, KEY_PATH};
use super::{ROOT, RenderedFile, StackError, StackSettings, TlsMode, quoted};

/// The static configuration's path in the library (1.x's).
pub const STATIC_PATH: &str = "traefik/etc/traefik.yaml";
/// The dynamic configuration's path in the library (1.x's).
pub const DYNAMIC_PATH: &str = "traefik/etc/conf.d/http.yaml";
/// Where the library's `traefik/etc` is mounted in the container.
pub const CONTAINER_DIR: &str = "/etc/traefik";
/// The internal entry point for the health check and metrics; never published.
pub const INTERNAL_PORT: u16 = 8082;
/// With several replicas, the entry point ForwardAuth asks through (on the container's
/// loopback only), so that Traefik's load balancer spreads the checks over the replicas.
pub const AUTH_PORT: u16 = 8083;
/// The entry point's name.
const AUTH_ENTRY_POINT: &str = "finch-auth";
/// How often Traefik probes each replica, and how long a probe may take: a stopped replica
/// leaves the rotation within about a second (the passive check and the retry cover the
/// requests meanwhile).
const PROBE_INTERVAL: &str = "1s";
const PROBE_TIMEOUT: &str = "1s";
/// Finch's healthz port: the probe asks `/metrics`, which answers while the process runs,
/// whatever the database does (`/healthz` fails while the database is down, and the replicas
/// must keep answering `/auth` then).
const PROBE_PORT: u16 = 3003;
const PROBE_PATH: &str = "/metrics";

/// The header a signal route's ForwardAuth answer carries the agent in, for the access log.
const AGENT_HEADER: &str = "X-Finch-Agent";
/// The largest ForwardAuth answer body Traefik reads: Finch's answers have none.
const AUTH_BODY_LIMIT: u32 = 4096;
/// The header Finch requires on gRPC calls (`finch::grpc::auth::PROXY_SECRET_HEADER`).
pub const PROXY_SECRET_HEADER: &str = "X-Finch-Proxy-Secret";

/// A route to a storage backend, behind ForwardAuth.
struct SignalRoute {
    name: &'static str,
    port: u16,
}

const SIGNALS: [SignalRoute; 3] = [
    SignalRoute {
        name: "loki",
        port: 3100,
    },
    SignalRoute {
        name: "mimir",
        port: 8080,
    },
    SignalRoute {
        name: "pyroscope",
        port: 4040,
    },
];

/// Renders both files; the dynamic one holds the proxy secret.
pub fn render(settings: &StackSettings) -> Result<Vec<RenderedFile>, StackError> {
    Ok(vec![
        RenderedFile::new(STATIC_PATH, static_config(settings), ROOT),
        RenderedFile::new(DYNAMIC_PATH, dynamic_config(settings), ROOT).secret(),
    ])
}

fn static_config(settings: &StackSettings) -> String {
    // The redirect names the port clients reach HTTPS on: the entry point's own unless the host
    // publishes it elsewhere (`--stack.https-port`).
    let redirect = match settings.ports.https.port {
        443 => "websecure".to_owned(),
        port => format!("\":{port}\""),
    };
    // With replicas, ForwardAuth reaches Finch through Traefik itself: this entry point takes
    // the X-Forwarded-* headers of ForwardAuth's request as they are (it trusts the loopback,
    // where the request comes from), and appends nothing to X-Forwarded-For.
    let auth_entry = if settings.replicas.get() > 1 {
        format!(
            "  {AUTH_ENTRY_POINT}:
    address: \"127.0.0.1:{AUTH_PORT}\"
    forwardedHeaders:
      trustedIPs: [\"127.0.0.1/32\"]
      notAppendXForwardedFor: true
    http:
      aliasHeadersStrategy: delete
"
        )
    } else {
        String::new()
    };
    let mut text = format!(
        "# Traefik's static configuration, rendered by finchctl: a deploy or update overwrites it.
# Every entry point drops headers whose names alias another's (X_Forwarded_Tls_Client_Cert for
# X-Forwarded-Tls-Client-Cert): no client can smuggle a header Traefik asserts.
entryPoints:
  web:
    address: \":80\"
    http:
      aliasHeadersStrategy: delete
      redirections:
        entryPoint:
          to: {redirect}
          scheme: https
          permanent: true
  websecure:
    address: \":443\"
    http:
      aliasHeadersStrategy: delete
  internal:
    address: \":{INTERNAL_PORT}\"
    http:
      aliasHeadersStrategy: delete
{auth_entry}ping:
  entryPoint: internal
metrics:
  prometheus:
    entryPoint: internal
providers:
  file:
    directory: {CONTAINER_DIR}/conf.d
    watch: true
log:
  level: INFO
  noColor: true
accessLog:
  format: json
  fields:
    names:
      # A dashboard login link may carry its token in the query.
      RequestPath: drop
global:
  checkNewVersion: false
  sendAnonymousUsage: false
"
    );
    if let TlsMode::LetsEncrypt { email } = &settings.tls {
        text.push_str(&format!(
            "certificatesResolvers:
  letsencrypt:
    acme:
      email: {}
      storage: {CONTAINER_DIR}/certs.d/acme.json
      httpChallenge:
        entryPoint: web
",
            quoted(email)
        ));
    }
    text
}

fn dynamic_config(settings: &StackSettings) -> String {
    let host_rule = match settings.tls {
        TlsMode::LetsEncrypt { .. } => format!("Host(`{}`) && ", settings.host),
        _ => String::new(),
    };
    let router_tls = match settings.tls {
        TlsMode::LetsEncrypt { .. } => "\n      tls:\n        certResolver: letsencrypt",
        _ => "\n      tls: {}",
    };
    let router = |name: &str,
                  rule: &str,
                  service: &str,
                  middlewares: &[&str],
                  priority: Option<u32>| {
        let mut text = format!(
            "    {name}:\n      rule: {}\n      entryPoints: [websecure]\n      service: {service}{router_tls}\n",
            quoted(&format!("{host_rule}{rule}"))
        );
        if !middlewares.is_empty() {
            text.push_str(&format!(
                "      middlewares: [{}]\n",
                middlewares.join(", ")
            ));
        }
        if let Some(priority) = priority {
            text.push_str(&format!("      priority: {priority}\n"));
        }
        text
    };
    let service = |name: &str, url: &str| {
        format!(
            "    {name}:\n      loadBalancer:\n        servers:\n          - url: {}\n",
            quoted(url)
        )
    };
    let replicas = settings.replicas.names();
    let several = replicas.len() > 1;
    // A Finch listener: one server per replica, and with several, Traefik's health checks.
    let finch_service = |name: &str, scheme: &str, port: u16| {
        let mut text = format!("    {name}:\n      loadBalancer:\n        servers:\n");
        for replica in &replicas {
            text.push_str(&format!(
                "          - url: {}\n",
                quoted(&format!("{scheme}://{replica}:{port}"))
            ));
        }
        if several {
            text.push_str(&format!(
                "        healthCheck:\n          scheme: http\n          path: {PROBE_PATH}\n          \
                 port: {PROBE_PORT}\n          interval: {PROBE_INTERVAL}\n          \
                 timeout: {PROBE_TIMEOUT}\n        passiveHealthCheck:\n          \
                 failureWindow: 10s\n          maxFailedAttempts: 1\n"
            ));
        }
        text
    };
    let auth_base = if several {
        format!("http://127.0.0.1:{AUTH_PORT}")
    } else {
        "http://finch:3002".to_owned()
    };

    let mut routers = router("grafana", "PathPrefix(`/grafana`)", "grafana", &[], None);
    let mut middlewares = String::new();
    let mut services = service("grafana", "http://grafana:3000");
    for signal in &SIGNALS {
        let name = signal.name;
        let (strip, auth) = (format!("{name}-strip"), format!("{name}-auth"));
        routers.push_str(&router(
            name,
            &format!("PathPrefix(`/{name}`)"),
            name,
            &[&strip, &auth],
            None,
        ));
        middlewares.push_str(&format!(
            "    {strip}:\n      stripPrefix:\n        prefixes: [\"/{name}\"]\n    \
             {auth}:\n      forwardAuth:\n        address: \"{auth_base}/auth/{name}\"\n        \
             trustForwardHeader: false\n        headerField: {AGENT_HEADER}\n        \
             maxResponseBodySize: {AUTH_BODY_LIMIT}\n"
        ));
        services.push_str(&service(name, &format!("http://{name}:{}", signal.port)));
    }
    let dashboard_middlewares: &[&str] = if several { &["finch-retry"] } else { &[] };
    routers.push_str(&router(
        "finch-dashboard",
        "PathPrefix(`/dashboard`) || Path(`/login`) || Path(`/logout`) || Path(`/ws`)",
        "finch-dashboard",
        dashboard_middlewares,
        None,
    ));
    // gRPC takes every path the other routers leave: the lowest priority.
    routers.push_str(&router(
        "finch-grpc",
        "PathPrefix(`/`)",
        "finch-grpc",
        &["finch-client-cert", "finch-proxy-secret"],
        Some(1),
    ));
    middlewares.push_str(&format!(
        "    finch-client-cert:\n      passTLSClientCert:\n        pem: true\n    \
         finch-proxy-secret:\n      headers:\n        customRequestHeaders:\n          \
         {PROXY_SECRET_HEADER}: {}\n",
        quoted(&settings.generated.proxy_secret)
    ));
    services.push_str(&finch_service("finch-dashboard", "http", 3001));
    services.push_str(&finch_service("finch-grpc", "h2c", 3000));
    if several {
        // ForwardAuth's own route, on the loopback entry point: a check that reached a replica
        // as it stopped is asked again of another.
        routers.push_str(&format!(
            "    finch-auth:\n      rule: \"PathPrefix(`/auth`)\"\n      entryPoints: [{AUTH_ENTRY_POINT}]\n      \
             service: finch-auth\n      middlewares: [finch-retry]\n"
        ));
        middlewares.push_str(&format!(
            "    finch-retry:\n      retry:\n        attempts: {}\n        initialInterval: 50ms\n",
            replicas.len()
        ));
        services.push_str(&finch_service("finch-auth", "http", 3002));
    }

    let certificates = match settings.tls {
        TlsMode::LetsEncrypt { .. } => String::new(),
        _ => format!(
            "  certificates:\n    - certFile: {CONTAINER_DIR}/{cert}\n      keyFile: {CONTAINER_DIR}/{key}\n  \
             stores:\n    default:\n      defaultCertificate:\n        certFile: {CONTAINER_DIR}/{cert}\n        \
             keyFile: {CONTAINER_DIR}/{key}\n",
            cert = in_container(CERT_PATH),
            key = in_container(KEY_PATH),
        ),
    };
    format!(
        "# Traefik's routes, rendered by finchctl: a deploy or update overwrites this file.
http:
  routers:
{routers}  middlewares:
{middlewares}  services:
{services}tls:
{certificates}  options:
    # Every connection is asked for a client certificate (the operator's, for gRPC); Finch,
    # not Traefik, verifies it. Options on a router would apply only to Host rules.
    default:
      minVersion: VersionTLS12
      clientAuth:
        clientAuthType: RequestClientCert
"
    )
}

/// A path under `traefik/etc/` as the container sees it below [`CONTAINER_DIR`].
fn in_container(library_path: &str) -> &str {
    library_path
        .strip_prefix("traefik/etc/")
        .unwrap_or(library_path)
}
