//! A Prometheus remote-write request, as an agent's Alloy pushes one to `/mimir/api/v1/push`:
//! a snappy-compressed protobuf `WriteRequest` of one series with one sample.
//!
//! Both encodings are written out by hand (a handful of protobuf fields; snappy's literal-only
//! block form, which every decoder reads) so the kit needs no codec crates for one message.

/// The headers a remote-write 1.0 push carries, as (name, value).
pub const HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// The body of a push of one sample: `metric{labels} value` at `timestamp_ms`.
pub fn write_request(
    metric: &str,
    labels: &[(&str, &str)],
    value: f64,
    timestamp_ms: i64,
) -> Vec<u8> {
    let mut series = Vec::new();
    for (name, value) in std::iter::once(("__name__", metric)).chain(labels.iter().copied()) {
        let mut label = Vec::new();
        field_bytes(&mut label, 1, name.as_bytes());
        field_bytes(&mut label, 2, value.as_bytes());
        field_bytes(&mut series, 1, &label);
    }
    let mut sample = Vec::new();
    sample.push(1 << 3 | 1); // field 1, 64-bit
    sample.extend_from_slice(&value.to_le_bytes());
    sample.push(2 << 3); // field 2, varint
    varint(&mut sample, timestamp_ms as u64);
    field_bytes(&mut series, 2, &sample);
    let mut request = Vec::new();
    field_bytes(&mut request, 1, &series);
    snappy_literal(&request)
}

/// A length-delimited protobuf field.
fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A snappy block holding `data` as literals of at most 64 KiB each.
fn snappy_literal(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(&mut out, data.len() as u64);
    for chunk in data.chunks(1 << 16) {
        let n = chunk.len() - 1;
        if n < 60 {
            out.push((n as u8) << 2);
        } else if n < 1 << 8 {
            out.extend_from_slice(&[60 << 2, n as u8]);
        } else {
            out.push(61 << 2);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_literals_follow_the_formats() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!(snappy_literal(b"abc"), [3, 2 << 2, b'a', b'b', b'c']);
        let long = vec![7u8; 100];
        assert_eq!(snappy_literal(&long)[..3], [100, 60 << 2, 99]);
        let longer = vec![7u8; 1000];
        assert_eq!(snappy_literal(&longer)[..4], [0xe8, 0x07, 61 << 2, 0xe7]);
    }
}
