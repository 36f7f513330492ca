//! The library half of `finch-standin`: [`images`] builds the stack's images on this machine
//! (the stand-ins among them), for the deploy tests and for the quickstart on a host without a
//! route to a registry. Never part of a release.

pub mod images;
