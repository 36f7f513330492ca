//! The Alloy release to install and how its binary is fetched and verified.
//!
//! A release is `<mirror>/<version>/alloy-<os>-<arch>.zip` beside the release's `SHA256SUMS`,
//! GitHub's layout, which an internal mirror copies (`--alloy.mirror`). One POSIX script,
//! [`FETCH`], downloads both, checks the zip against its line in `SHA256SUMS` and unpacks the
//! binary; it runs on the host when the host can reach the server, otherwise on the
//! workstation (whose copy is then uploaded). Either way a checksum mismatch ends the run
//! before anything is installed.

use std::time::Duration;

use anyhow::Context as _;

use crate::agent_install::platform::Platform;
use crate::output::Problem;
use crate::stack::images::ALLOY_VERSION;
use crate::target::Step;

/// `--alloy.mirror`'s default: GitHub's release downloads of grafana/alloy.
pub const DEFAULT_MIRROR: &str = "https://github.com/grafana/alloy/releases/download";
/// The checksum file every Alloy release publishes.
pub const CHECKSUMS: &str = "SHA256SUMS";
/// The name of the host's download step.
pub const DOWNLOAD_STEP: &str = "Download and verify Alloy";
/// The name of the host's reachability probe.
pub const REACH_STEP: &str = "Check the release server";
/// How long the workstation's download may take (a release zip is about 100 MB).
const LOCAL_TIMEOUT: Duration = Duration::from_secs(600);

/// `$1` base URL, `$2` asset (no `.zip`), `$3` and `$4` for what follows: downloads `SHA256SUMS` and the zip into `$tmp`,
/// verifies, and leaves the binary at `$tmp/x/$asset`. `$want` is the zip's checksum. Before
/// downloading the zip, `skip_unchanged` (a shell function the caller defines) may end the
/// script when that checksum is already installed.
pub const FETCH: &str = r#"set -e
base=$1 asset=$2 bin=$3 stamp=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/finch-alloy.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
command -v curl >/dev/null 2>&1 || { echo "curl is not installed" >&2; exit 1; }
curl -fsSL --max-time 60 -o "$tmp/SHA256SUMS" "$base/SHA256SUMS"
want=$(awk -v f="$asset.zip" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
if [ -z "$want" ]; then echo "$base/SHA256SUMS lists no $asset.zip" >&2; exit 1; fi
skip_unchanged
curl -fsSL --max-time 600 -o "$tmp/$asset.zip" "$base/$asset.zip"
got=$( (sha256sum "$tmp/$asset.zip" 2>/dev/null || shasum -a 256 "$tmp/$asset.zip" 2>/dev/null || sha256 -r "$tmp/$asset.zip") | awk '{ print $1 }')
if [ "$got" != "$want" ]; then
echo "checksum mismatch: $base/$asset.zip has SHA-256 $got, SHA256SUMS says $want; nothing was installed" >&2
exit 1
fi
mkdir "$tmp/x"
unzip -q -o "$tmp/$asset.zip" "$asset" -d "$tmp/x"
"#;

/// On the host, after [`FETCH`]: `$bin` (`$3`) the binary's path, `$stamp` (`$4`) the release
/// stamp. An unchanged
/// release (same asset and checksum as the stamp, binary present) is not downloaded again.
const INSTALL_ON_HOST: &str = r#"mkdir -p "$(dirname "$bin")" "$(dirname "$stamp")"
cp "$tmp/x/$asset" "$bin.finch-new"
chmod 0755 "$bin.finch-new"
mv -f "$bin.finch-new" "$bin"
printf '%s %s\n' "$asset.zip" "$want" > "$stamp"
echo installed"#;

const SKIP_ON_HOST: &str = r#"skip_unchanged() {
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$asset.zip $want" ]; then echo unchanged; exit 0; fi
}
"#;

/// On the workstation, after [`FETCH`]: `$bin` (`$3`) where to copy the binary.
const COPY_LOCALLY: &str = r#"cp "$tmp/x/$asset" "$bin""#;

/// Which Alloy to fetch, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The tag, `v1.18.0`.
    pub version: String,
    /// The release server (no trailing `/`).
    pub mirror: String,
}

// === impl Release ===

impl Release {
    /// `--alloy.version` (with or without the `v`) from `--alloy.mirror`.
    ///
    /// ```
    /// use finchctl::agent_install::release::Release;
    /// let r = Release::new("1.18.0", "https://mirror.example/alloy/").unwrap();
    /// assert_eq!(r.base_url(), "https://mirror.example/alloy/v1.18.0");
    /// assert!(Release::new("latest", "https://x").is_err());
    /// ```
    pub fn new(version: &str, mirror: &str) -> Result<Self, Problem> {
        let bare = version.strip_prefix('v').unwrap_or(version);
        let numeric = bare.split('.').count() == 3
            && bare
                .split(['.', '-'])
                .take(3)
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !numeric || bare.contains(char::is_whitespace) {
            return Err(Problem::usage(format!(
                "--alloy.version: {version:?} is not a release such as {ALLOY_VERSION} (\"latest\" is not accepted: agents run the version the stack was tested with unless you name another)"
            )));
        }
        if !(mirror.starts_with("https://") || mirror.starts_with("http://")) {
            return Err(Problem::usage(format!(
                "--alloy.mirror: {mirror:?} is not an http(s) URL of a copy of Alloy's release downloads"
            )));
        }
        Ok(Self {
            version: format!("v{bare}"),
            mirror: mirror.trim_end_matches('/').to_owned(),
        })
    }

    /// The release's directory: `<mirror>/<version>`.
    pub fn base_url(&self) -> String {
        format!("{}/{}", self.mirror, self.version)
    }

    /// The checksum file's URL.
    pub fn checksums_url(&self) -> String {
        format!("{}/{CHECKSUMS}", self.base_url())
    }

    /// The step that downloads, verifies and installs the binary on the host.
    pub fn download_step(&self, platform: Platform, binary: &str, release_stamp: &str) -> Step {
        Step::script(
            format!("{DOWNLOAD_STEP} {}", self.version),
            format!("{SKIP_ON_HOST}{FETCH}{INSTALL_ON_HOST}"),
            [
                self.base_url(),
                asset(platform),
                binary.to_owned(),
                release_stamp.to_owned(),
            ],
        )
    }

    /// The probe saying whether the host can fetch the release itself: `reachable` when it
    /// has curl and unzip and the checksum file answers.
    pub fn reach_step(&self) -> Step {
        Step::script(
            REACH_STEP,
            r#"if command -v curl >/dev/null 2>&1 && command -v unzip >/dev/null 2>&1 && curl -fsS -o /dev/null --max-time 10 "$1"; then echo reachable; else echo unreachable; fi"#,
            [self.checksums_url()],
        )
        .as_user()
    }

    /// Downloads and verifies the binary on this workstation (curl, unzip and a SHA-256 tool
    /// needed here), for a host that cannot reach the release server.
    pub async fn fetch_locally(&self, platform: Platform) -> anyhow::Result<Vec<u8>> {
        let dir = tempfile::Builder::new()
            .prefix("finch-alloy.")
            .tempdir()
            .context("cannot create a temporary directory for the Alloy download")?;
        let out_path = dir.path().join("alloy");
        let script = format!("skip_unchanged() {{ :; }}\n{FETCH}{COPY_LOCALLY}");
        let run = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(crate::target::plan::SCRIPT_NAME)
            .arg(self.base_url())
            .arg(asset(platform))
            .arg(&out_path)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(LOCAL_TIMEOUT, run)
            .await
            .map_err(|_| {
                Problem::failed(format!(
                    "downloading {} took longer than {LOCAL_TIMEOUT:?}",
                    self.base_url()
                ))
            })?
            .context("cannot run sh on this workstation")?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(Problem::failed(format!(
                "cannot fetch Alloy {} for {platform} on this workstation: {}",
                self.version,
                stderr.trim()
            ))
            .hint("pass the binary with --alloy.binary, or a reachable copy of the releases with --alloy.mirror")
            .into());
        }
        std::fs::read(&out_path).with_context(|| format!("cannot read {}", out_path.display()))
    }
}

/// The release asset of a platform, without `.zip`: `alloy-linux-amd64`.
pub fn asset(platform: Platform) -> String {
    format!("alloy-{platform}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_tags_with_a_v() {
        let r = Release::new("v1.18.0", DEFAULT_MIRROR).ok();
        assert_eq!(
            r.map(|r| r.checksums_url()).as_deref(),
            Some("https://github.com/grafana/alloy/releases/download/v1.18.0/SHA256SUMS")
        );
        for bad in ["latest", "", "1.18", "v1.x.0", "1.18.0; rm"] {
            assert!(Release::new(bad, DEFAULT_MIRROR).is_err(), "{bad}");
        }
        assert!(Release::new("1.18.0", "ftp://x").is_err());
    }

    #[test]
    fn the_pinned_version_is_a_valid_release() {
        assert!(Release::new(ALLOY_VERSION, DEFAULT_MIRROR).is_ok());
    }
}
