//! What `service deploy` does on a host, as plans for the target layer.
//!
//! A deploy starts with [`requirements`]: unprivileged probes for Docker and Compose, so a host
//! that cannot run the stack is refused, with what to install, before anything on it changes.

pub mod requirements;
