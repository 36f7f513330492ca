//! The stack's operator clients: one CA certificate per client in
//! `traefik/etc/certs.d/<RID>.pem`, as 1.x lays them out and `finch` reads them on every call.
//!
//! Registering a client is writing its CA file, revoking it is removing that file, and the
//! list of clients is the list of those files (without Traefik's own `cert.pem`/`key.pem` and
//! 1.x's older shared `ca.pem`). The host is read in one step, [`list_step`], whose output
//! [`parse_listing`] turns into [`OperatorClient`]s with their expiry; this module decides
//! what is where, the commands run it.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::mtls;
use crate::target::Step;

/// The directory of the operators' CAs (and Traefik's certificate), in the library.
pub const CERTS_DIR: &str = "traefik/etc/certs.d";
/// The single CA file of 1.x's first releases; `rotate-certificate` removes it, as 1.x does.
pub const LEGACY_CA: &str = "ca.pem";
/// Files in the directory that are not operators' CAs.
const NOT_CLIENTS: [&str; 3] = ["cert.pem", "key.pem", LEGACY_CA];

/// The name of the listing step.
pub const LIST_STEP: &str = "Read the operators' certificates";

/// Starts each file in the listing; cannot occur in a PEM file.
const MARK: &str = "==> finchctl client ";

/// Prints every client CA file of the directory `$1` after a [`MARK`] line naming it; an
/// absent directory lists nothing.
const LIST_SCRIPT: &str = r#"cd -- "$1" 2>/dev/null || exit 0
for f in *.pem; do
[ -f "$f" ] || continue
case "$f" in cert.pem|key.pem|ca.pem) continue ;; esac
printf '==> finchctl client %s\n' "$f"
cat -- "$f"
done"#;

/// Removes `$1` (a client's CA file), failing with status 3 when there is none.
const REMOVE_SCRIPT: &str = r#"if [ ! -e "$1" ]; then echo "no such client: $1" >&2; exit 3; fi
rm -f -- "$1""#;

/// One registered operator client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorClient {
    /// The client's RID (its CA file's name without `.pem`).
    pub rid: String,
    /// When its CA, and the client certificate signed with it, stop being valid (RFC 3339).
    pub expires_at: Option<String>,
    /// `valid`, `expiring` (within 14 days), `expired` or `unreadable`.
    pub status: ClientStatus,
    /// Whether it is this workstation.
    pub this_workstation: bool,
}

/// Where a client's certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    /// Valid for more than [`mtls::EXPIRY_WARNING`].
    Valid,
    /// Expires within [`mtls::EXPIRY_WARNING`].
    Expiring,
    /// Past its expiry: the service refuses the client.
    Expired,
    /// Not a readable certificate.
    Unreadable,
}

/// Why a client RID cannot name a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a client RID: give one as `finchctl service clients` lists it \
     (rid:finchctl: and 16 hex digits for finchctl's own)"
)]
pub struct RidError(String);

// === impl ClientStatus ===

impl ClientStatus {
    /// The status of a certificate expiring at `expires` (none: unreadable), seen at `now`.
    pub fn at(expires: Option<OffsetDateTime>, now: OffsetDateTime) -> ClientStatus {
        match expires {
            None => ClientStatus::Unreadable,
            Some(t) if t <= now => ClientStatus::Expired,
            Some(t) if t - now <= mtls::EXPIRY_WARNING => ClientStatus::Expiring,
            Some(_) => ClientStatus::Valid,
        }
    }

    /// The word shown in tables.
    pub fn word(self) -> &'static str {
        match self {
            ClientStatus::Valid => "valid",
            ClientStatus::Expiring => "expiring",
            ClientStatus::Expired => "expired",
            ClientStatus::Unreadable => "unreadable",
        }
    }
}

/// Checks that `rid` names a client CA file: printable, no path separator, not hidden, and not
/// one of the directory's other files.
pub fn check_rid(rid: &str) -> Result<(), RidError> {
    let ok = !rid.is_empty()
        && rid.len() <= 128
        && !rid.starts_with('.')
        && rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":._-".contains(&b))
        && !NOT_CLIENTS.contains(&format!("{rid}.pem").as_str())
        && rid != "acme.json";
    if ok {
        Ok(())
    } else {
        Err(RidError(rid.to_owned()))
    }
}

/// The path of `rid`'s CA file under `library`.
pub fn ca_path(library: &str, rid: &str) -> Result<String, RidError> {
    check_rid(rid)?;
    Ok(format!(
        "{}/{CERTS_DIR}/{rid}.pem",
        library.trim_end_matches('/')
    ))
}

/// The step that prints every client CA file of the stack in `library` (as root: the files
/// are 0400).
pub fn list_step(library: &str) -> Step {
    Step::script(
        LIST_STEP,
        LIST_SCRIPT,
        [format!("{}/{CERTS_DIR}", library.trim_end_matches('/'))],
    )
}

/// The step that removes `rid`'s CA file, failing when the stack has no such client.
pub fn remove_step(library: &str, rid: &str) -> Result<Step, RidError> {
    Ok(Step::script(
        format!("Revoke client {rid}"),
        REMOVE_SCRIPT,
        [ca_path(library, rid)?],
    ))
}

/// The step that removes 1.x's shared `ca.pem`, when there is one.
pub fn remove_legacy_step(library: &str) -> Step {
    Step::run(
        "Remove the shared CA of early 1.x releases",
        [
            "rm".to_owned(),
            "-f".to_owned(),
            format!("{}/{CERTS_DIR}/{LEGACY_CA}", library.trim_end_matches('/')),
        ],
    )
}

/// The clients in the output of [`list_step`], sorted by RID; `own_rid` marks this
/// workstation's.
pub fn parse_listing(
    output: &str,
    own_rid: Option<&str>,
    now: OffsetDateTime,
) -> Vec<OperatorClient> {
    let mut clients = Vec::new();
    let mut current: Option<(String, String)> = None;
    let finish = |entry: Option<(String, String)>, clients: &mut Vec<OperatorClient>| {
        if let Some((file, pem)) = entry {
            let rid = file.strip_suffix(".pem").unwrap_or(&file).to_owned();
            let expires = mtls::not_after(&pem).ok();
            clients.push(OperatorClient {
                this_workstation: own_rid == Some(rid.as_str()),
                rid,
                expires_at: expires.and_then(|t| t.format(&Rfc3339).ok()),
                status: ClientStatus::at(expires, now),
            });
        }
    };
    for line in output.lines() {
        if let Some(file) = line.strip_prefix(MARK) {
            finish(current.take(), &mut clients);
            current = Some((file.to_owned(), String::new()));
        } else if let Some((_, pem)) = current.as_mut() {
            pem.push_str(line);
            pem.push('\n');
        }
    }
    finish(current.take(), &mut clients);
    clients.sort_by(|a, b| a.rid.cmp(&b.rid));
    clients
}

/// The clients as a table.
pub fn table(clients: &[OperatorClient]) -> String {
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            vec![
                c.rid.clone(),
                c.expires_at.clone().unwrap_or_else(|| "-".to_owned()),
                c.status.word().to_owned(),
                if c.this_workstation { "yes" } else { "" }.to_owned(),
            ]
        })
        .collect();
    crate::output::table(Some(&["RID", "EXPIRES", "STATUS", "THIS"]), &rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use time::Duration;

    use super::*;

    const RID: &str = "rid:finchctl:0123456789abcdef";

    #[test]
    fn rids_name_files_in_the_directory_only() {
        assert_eq!(
            ca_path("/var/lib/finch/", RID).unwrap(),
            "/var/lib/finch/traefik/etc/certs.d/rid:finchctl:0123456789abcdef.pem"
        );
        for bad in [
            "",
            "../x",
            "a/b",
            ".hidden",
            "cert",
            "key",
            "ca",
            "acme.json",
            "a b",
            "x;rm",
        ] {
            assert!(check_rid(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_listing_gives_each_client_with_its_expiry() {
        let now = OffsetDateTime::now_utc();
        let fresh = mtls::generate("h", RID, now).unwrap();
        let old = mtls::generate(
            "h",
            "rid:finchctl:ffffffffffffffff",
            now - Duration::days(85),
        )
        .unwrap();
        let gone = mtls::generate(
            "h",
            "rid:finchctl:1111111111111111",
            now - Duration::days(95),
        )
        .unwrap();
        let output = format!(
            "{MARK}rid:finchctl:ffffffffffffffff.pem\n{}{MARK}{RID}.pem\n{}{MARK}rid:finchctl:1111111111111111.pem\n{}{MARK}junk.pem\nnot a certificate\n",
            old.ca_pem, fresh.ca_pem, gone.ca_pem
        );
        let clients = parse_listing(&output, Some(RID), now);
        let summary: Vec<(&str, ClientStatus, bool)> = clients
            .iter()
            .map(|c| (c.rid.as_str(), c.status, c.this_workstation))
            .collect();
        assert_eq!(
            summary,
            [
                ("junk", ClientStatus::Unreadable, false),
                (RID, ClientStatus::Valid, true),
                (
                    "rid:finchctl:1111111111111111",
                    ClientStatus::Expired,
                    false
                ),
                (
                    "rid:finchctl:ffffffffffffffff",
                    ClientStatus::Expiring,
                    false
                ),
            ]
        );
        let expected = mtls::not_after(&fresh.ca_pem)
            .unwrap()
            .format(&Rfc3339)
            .unwrap();
        assert_eq!(clients[1].expires_at.as_deref(), Some(expected.as_str()));
        assert!(parse_listing("", None, now).is_empty());
        let text = table(&clients);
        assert!(text.starts_with("RID"), "{text}");
        assert!(text.contains("expired"), "{text}");
    }

    #[test]
    fn the_steps_run_as_root_with_the_path_as_an_argument() {
        let line = remove_step("/srv/finch", RID).unwrap().command_line(false);
        assert!(line.starts_with("sudo -n -- sh -c"), "{line}");
        assert!(
            line.contains("/srv/finch/traefik/etc/certs.d/rid:finchctl:0123456789abcdef.pem"),
            "{line}"
        );
        assert!(remove_step("/srv/finch", "../../etc/passwd").is_err());
        let list = list_step("/srv/finch").command_line(true);
        assert!(list.ends_with("/srv/finch/traefik/etc/certs.d"), "{list}");
    }
}
