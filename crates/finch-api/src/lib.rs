//! The Finch control-plane contract: messages and service stubs generated from
//! `proto/finch.proto` (package `finch`), wire-compatible with Finch 1.x.
//!
//! Both the `finch` service and the `finchctl` client depend on this crate, so the contract has
//! exactly one definition.

#![allow(missing_docs)]

tonic::include_proto!("finch");

/// The encoded file descriptor set of the contract, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("finch_descriptor");
