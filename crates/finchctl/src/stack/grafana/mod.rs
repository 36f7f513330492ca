//! Grafana's provisioning: the three datasources (with the fixed UIDs 1.x used, so links and
//! panels made on a 1.x stack keep working), our dashboards, the alert rules and where alerts
//! go, the admin password Grafana reads on its first start (1.x left admin/admin), and the
//! SMTP password of `--alert.smtp.credentials`.
//!
//! Provisioning lives in `grafana/provisioning/`, mounted read-only as
//! `/etc/grafana/provisioning`; 1.x's dashboards in `grafana/dashboards/` are not read, so an
//! upgraded stack shows ours alone.

pub mod alerts;
pub mod contact_points;
mod dashboards;

use super::{GRAFANA_USER, RenderedFile, StackError, StackSettings};

/// The admin password file in the library; the container sees it below `/var/lib/grafana`.
pub const PASSWORD_PATH: &str = "grafana/admin-password";
/// The password file as the container sees it.
pub const PASSWORD_IN_CONTAINER: &str = "/var/lib/grafana/admin-password";
/// The SMTP password file in the library (only with `--alert.smtp.credentials`).
pub const SMTP_PASSWORD_PATH: &str = "grafana/smtp-password";
/// The SMTP password file as the container sees it (`GF_SMTP_PASSWORD__FILE`).
pub const SMTP_PASSWORD_IN_CONTAINER: &str = "/var/lib/grafana/smtp-password";
/// Where the library's `grafana/provisioning` is mounted in the container.
pub const PROVISIONING_IN_CONTAINER: &str = "/etc/grafana/provisioning";

/// The datasources' UIDs, which dashboards and alert rules refer to.
pub const LOKI_UID: &str = "finch-loki";
/// Mimir's datasource UID.
pub const MIMIR_UID: &str = "finch-mimir";
/// Pyroscope's datasource UID.
pub const PYROSCOPE_UID: &str = "finch-pyroscope";

/// The folder our dashboards and alert rules live in.
const FOLDER: &str = "Finch";

const DATASOURCES: &str =
    "# Grafana's datasources, rendered by finchctl: a deploy or update overwrites this file.
apiVersion: 1
datasources:
  - name: Loki
    uid: finch-loki
    type: loki
    access: proxy
    url: http://loki:3100
    editable: false
  - name: Mimir
    uid: finch-mimir
    type: prometheus
    access: proxy
    url: http://mimir:8080/prometheus
    isDefault: true
    editable: false
  - name: Pyroscope
    uid: finch-pyroscope
    type: grafana-pyroscope-datasource
    access: proxy
    url: http://pyroscope:4040
    editable: false
";

/// Renders every provisioning file and the password file.
pub fn render(settings: &StackSettings) -> Result<Vec<RenderedFile>, StackError> {
    let mut files = vec![
        file("grafana/provisioning/datasources/finch.yaml", DATASOURCES),
        file(
            "grafana/provisioning/dashboards/finch.yaml",
            dashboard_provider(),
        ),
        file(
            alerts::PATH,
            alerts::render(settings.alerts.silence).map_err(|e| serialize(alerts::PATH, &e))?,
        ),
        RenderedFile::new(
            PASSWORD_PATH,
            format!("{}\n", settings.generated.grafana_password),
            GRAFANA_USER,
        )
        .secret(),
    ];
    let contacts = contact_points::render(&settings.alerts)
        .map_err(|e| serialize(contact_points::PATH, &e))?;
    if let Some(text) = contacts {
        files.push(file(contact_points::PATH, text));
    }
    let login = settings
        .alerts
        .smtp
        .as_ref()
        .and_then(|s| s.credentials.as_ref());
    if let Some(login) = login {
        files.push(
            RenderedFile::new(SMTP_PASSWORD_PATH, login.password.clone(), GRAFANA_USER).secret(),
        );
    }
    for (name, dashboard) in dashboards::all() {
        let path = format!("grafana/provisioning/dashboards/finch/{name}.json");
        let mut text =
            serde_json::to_string_pretty(&dashboard).map_err(|e| StackError::Serialize {
                path: "grafana/provisioning/dashboards/finch",
                reason: e.to_string(),
            })?;
        text.push('\n');
        files.push(file(&path, text));
    }
    Ok(files)
}

fn serialize(path: &'static str, e: &serde_norway::Error) -> StackError {
    StackError::Serialize {
        path,
        reason: e.to_string(),
    }
}

fn file(path: &str, contents: impl Into<Vec<u8>>) -> RenderedFile {
    RenderedFile::new(path, contents, GRAFANA_USER)
}

fn dashboard_provider() -> String {
    format!(
        "# Grafana's dashboard provider, rendered by finchctl: a deploy or update overwrites this file.
apiVersion: 1
providers:
  - name: finch
    orgId: 1
    folder: {FOLDER}
    type: file
    disableDeletion: true
    allowUiUpdates: false
    options:
      path: {PROVISIONING_IN_CONTAINER}/dashboards/finch
"
    )
}
