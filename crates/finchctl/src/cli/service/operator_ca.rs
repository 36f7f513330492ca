//! Installing this workstation's operator credentials on a stack, for `service register` and
//! `service rotate-certificate`: a new single-use CA and client certificate ([`mtls`]), the CA
//! uploaded as `certs.d/<RID>.pem`, the certificate and key kept in the profile.
//!
//! The profile is written first (atomically, the previous file kept as `finch.json~`) and the
//! CA uploaded second; if the upload fails, the profile's previous entry is put back. Either
//! way round one half can fail after the other succeeded, and this order keeps what the
//! operator holds in step with what the host trusts: 1.x uploaded first and could lose the new
//! key when the profile write failed afterwards.

use time::OffsetDateTime;

use super::on_host::OnHost;
use crate::cli::Context;
use crate::client::ServerPin;
use crate::mtls;
use crate::profile::Stack;
use crate::stack::{operators, tls};
use crate::target::{Plan, Step, Upload};

/// What to install and what it replaces.
#[derive(Debug)]
pub struct Enrollment {
    /// The profile's name for the stack.
    pub name: String,
    /// The entry it replaces, put back if the upload fails.
    pub previous: Option<Stack>,
    /// The server pin to store.
    pub server_pin: Option<String>,
    /// Steps to run after the upload (1.x's legacy CA removal).
    pub then: Vec<Step>,
}

/// Generates credentials for this workstation, stores them and uploads their CA; returns the
/// RID. A dry run shows the steps and changes nothing locally.
pub async fn install(on: &OnHost, enrollment: Enrollment, cx: &Context) -> anyhow::Result<String> {
    let rid = mtls::local_rid(&cx.env.machine_id_paths)?;
    let hostname = on.hostname()?;
    let credentials = mtls::generate(&hostname, &rid, OffsetDateTime::now_utc())?;
    let mut plan = Plan::new();
    plan.push(Step::upload(
        format!("Upload the CA of client {rid}"),
        Upload {
            dest: operators::ca_path(&on.docker.library, &rid)?,
            contents: credentials.ca_pem.into_bytes().into(),
            mode: 0o400,
            owner: Some("0:0".to_owned()),
        },
    ));
    for step in enrollment.then {
        plan.push(step);
    }
    if on.fleet.dry_run {
        return on.apply(&plan).await.map(|()| rid);
    }
    let mut profile = cx.load_profile()?;
    profile.upsert(&Stack {
        name: enrollment.name.clone(),
        cert_pem: credentials.cert_pem,
        key_pem: credentials.key_pem,
        server_pin: enrollment.server_pin,
    });
    profile.save()?;
    if let Err(err) = on.apply(&plan).await {
        let mut profile = cx.load_profile()?;
        match &enrollment.previous {
            Some(previous) => profile.upsert(previous),
            None => {
                profile.remove(&enrollment.name);
            }
        }
        profile.save()?;
        return Err(err.context(format!(
            "{} is as it was before this command",
            profile.path().display()
        )));
    }
    Ok(rid)
}

/// The pin of the stack's own certificate when it is self-issued (finchctl's self-signed
/// certificate, or a custom one without a CA): no web PKI can verify it by name.
pub fn self_signed_pin(on: &OnHost) -> Option<String> {
    let pem = on.library.files.get(tls::CERT_PATH)?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    (cert.issuer().as_raw() == cert.subject().as_raw())
        .then(|| ServerPin::of(&pem.contents).to_string())
}
