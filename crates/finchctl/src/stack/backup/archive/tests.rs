use std::os::unix::fs::PermissionsExt as _;

use super::*;
use crate::stack::backup::manifest::FORMAT;
use crate::stack::backup::snapshot::{AGENTS, Snapshot};
use crate::stack::deploy::library::sha256_hex;

/// A tar as the host's backup step makes it: the library with the stage inside.
fn host_tar() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, mode: u32, uid: u64, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(uid);
        header.set_gid(uid);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, path, data).unwrap();
    };
    let (dir, file) = (tar::EntryType::Directory, tar::EntryType::Regular);
    let entries: [(&str, tar::EntryType, u32, u64, &[u8]); 8] = [
        ("./", dir, 0o700, 0, b""),
        ("./finch.json", file, 0o400, 0, b"{\"id\":\"x\"}"),
        ("./grafana/", dir, 0o755, 472, b""),
        ("./grafana/admin-password", file, 0o644, 472, b"pw"),
        ("./.finch-backup/", dir, 0o700, 0, b""),
        (
            "./.finch-backup/finch.db",
            file,
            0o600,
            0,
            b"SQLite format 3\0",
        ),
        ("./.finch-backup/grafana.db", file, 0o640, 472, b"grafana"),
        (AGENTS, file, 0o644, 0, b"agents 3\n"),
    ];
    for (path, kind, mode, uid, data) in entries {
        add(path, kind, mode, uid, data);
    }
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    builder
        .append_link(&mut link, "./loki/current", "/etc/passwd")
        .unwrap();
    builder.into_inner().unwrap()
}

fn archive() -> Archive {
    let snapshot = Snapshot::parse(&host_tar()).unwrap();
    Archive {
        manifest: Manifest {
            format: FORMAT,
            created_at: "2026-01-01T00:00:00Z".into(),
            finchctl: "test".into(),
            id: "x".into(),
            hostname: "h".into(),
            service_name: "h".into(),
            database: "sqlite".into(),
            agents: snapshot.agents.unwrap(),
            data: false,
            images: BTreeMap::new(),
            entries: snapshot.entries,
        },
        contents: snapshot.contents,
    }
}

#[test]
fn the_host_tar_maps_the_copies_to_their_databases_paths() {
    let snapshot = Snapshot::parse(&host_tar()).unwrap();
    assert_eq!(snapshot.agents, Some(3));
    let paths: Vec<&str> = snapshot.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "finch.json",
            "grafana",
            "grafana/admin-password",
            "finch.db",
            "grafana/grafana.db"
        ]
    );
    let password = &snapshot.entries[2];
    assert_eq!(
        (password.mode, password.uid),
        (0o640, 472),
        "no bit for others"
    );
    assert_eq!(password.sha256, sha256_hex(b"pw"));
}

#[test]
fn an_archive_is_written_0600_and_reads_back_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.gz");
    std::fs::write(&path, b"an older backup").unwrap();
    let archive = archive();
    let size = write(&path, &archive).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file stays");
    let back = read(&path).unwrap();
    assert_eq!(back.manifest, archive.manifest);
    assert_eq!(back.contents["finch.db"], b"SQLite format 3\0");

    // The payload unpacks with the entries' owners and modes.
    let payload = back.payload().unwrap();
    let mut tar = tar::Archive::new(payload.as_slice());
    let owners: Vec<(String, u64, u32)> = tar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.uid().unwrap(),
                h.mode().unwrap(),
            )
        })
        .collect();
    assert!(
        owners.contains(&("grafana/grafana.db".into(), 472, 0o640)),
        "{owners:?}"
    );
    assert!(
        owners.contains(&("grafana/".into(), 472, 0o750)),
        "{owners:?}"
    );
}

/// A change anywhere is refused, unless it falls on bits that carry nothing (gzip's time
/// stamp, a deflate block's padding): then what is read is the archive unchanged.
#[test]
fn no_changed_byte_gets_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.gz");
    write(&path, &archive()).unwrap();
    let original = read(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        if let Ok(read) = read(&path) {
            assert_eq!(read.manifest, original.manifest, "byte {at}");
            assert_eq!(read.contents, original.contents, "byte {at}");
        }
    }
    let mut longer = good.clone();
    longer.push(0);
    std::fs::write(&path, &longer).unwrap();
    assert!(read(&path).is_err(), "a byte after the end went unnoticed");
}

#[test]
fn contents_that_differ_from_the_manifest_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.tar.gz");
    let mut tampered = archive();
    tampered
        .contents
        .insert("finch.json".into(), b"{\"id\":\"y\"}".to_vec());
    write(&path, &tampered).unwrap();
    let err = read(&path).unwrap_err().to_string();
    assert!(
        err.contains("finch.json does not match its checksum"),
        "{err}"
    );

    let mut missing = archive();
    missing.manifest.entries.push(Entry {
        path: "traefik/etc/certs.d/cert.pem".into(),
        kind: Kind::File,
        mode: 0o400,
        uid: 0,
        gid: 0,
        size: 1,
        sha256: sha256_hex(b"c"),
    });
    // The writer writes what the manifest lists: drop the file from the tar by hand.
    let mut only_listed = missing.clone();
    only_listed.manifest.entries.pop();
    write(&path, &only_listed).unwrap();
    let mut bytes = Vec::new();
    GzDecoder::new(std::fs::read(&path).unwrap().as_slice())
        .read_to_end(&mut bytes)
        .unwrap();
    let mut tar = tar::Archive::new(bytes.as_slice());
    let mut rebuilt = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (i, entry) in tar.entries().unwrap().enumerate() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let name = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if i == 0 {
            data = serde_json::to_vec(&missing.manifest).unwrap();
            header.set_size(data.len() as u64);
        }
        rebuilt
            .append_data(&mut header, name, data.as_slice())
            .unwrap();
    }
    let gz = rebuilt.into_inner().unwrap().finish().unwrap();
    std::fs::write(&path, gz).unwrap();
    let err = read(&path).unwrap_err().to_string();
    assert!(
        err.contains("cert.pem is in the manifest but not in the archive"),
        "{err}"
    );
}
