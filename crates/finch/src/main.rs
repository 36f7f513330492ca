//! The `finch` binary.

fn main() {}
