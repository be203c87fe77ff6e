//! latchkey: a single-binary authentication server.
//!
//! The binary (`src/main.rs`) parses the command line and hands over to this library:
//! [`config`] reads `auth.toml`, [`server`] accepts HTTP and dispatches through the
//! protocol-adapter table of the `protocol` crate, [`service`] runs each operation
//! against the `storage` crate's store with the [`signer`] and [`password`] modules.
//! See `docs/architecture.md` for the map and the path of a request.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice
)]

pub mod access;
pub mod admin;
pub mod bounds;
pub mod cli;
pub mod clock;
pub mod config;
pub mod fuzzing;
pub mod http;
pub mod i18n;
pub mod import;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod net;
pub mod outbound;
pub mod password;
pub mod portal;
pub mod primitives;
pub mod secrets;
pub mod server;
pub mod service;
pub mod signer;
pub mod totp;
pub mod upstream;
pub mod webhooks;
