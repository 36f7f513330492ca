//! What `service deploy` and the commands on a deployed stack do on a host, as plans for the
//! target layer.
//!
//! A deploy starts with [`requirements`]: unprivileged probes for Docker and Compose, so a host
//! that cannot run the stack is refused, with what to install, before anything on it changes.
//! [`docker`] builds the Docker and Compose steps for a host's daemon and library; [`library`]
//! reads what an earlier deploy left in the library, in one round trip.

pub mod apply;
pub mod docker;
pub mod library;
pub mod requirements;

pub use docker::Docker;
pub use library::Library;
