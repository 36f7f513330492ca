//! The dashboard over real sockets: the WebSocket protocol, roles and scope, expiry, origin,
//! subscriptions, a 200-client stress run, and headless Chromium driving the page.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "dashboard/browser.rs"]
mod browser;
#[path = "dashboard/roles.rs"]
mod roles;
#[path = "dashboard/stress.rs"]
mod stress;
#[path = "dashboard/support.rs"]
mod support;
#[path = "dashboard/ws.rs"]
mod ws;
