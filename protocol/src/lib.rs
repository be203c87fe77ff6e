//! latchkey's route families as pure translations.
//!
//! A request's parts and bytes go in ([`Request`]); a typed [`Operation`] (or a reply
//! already shaped in the family's error format) comes out. The service runs the operation;
//! its [`Outcome`] or [`Failure`] comes back here and the same family renders it as a
//! [`Reply`]. Nothing in this crate touches the store, the signer or the network, so every
//! family is testable and fuzzable as plain functions.
//!
//! The adapter [`table`] maps mount prefixes to families; adding a family is one module
//! (its routes, decoders, renderers, error format and route documentation) and one entry
//! in [`families::FAMILIES`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice
)]

pub mod doc;
pub mod families;
pub mod fields;
pub mod input;
pub mod oauth;
pub mod oidc;
pub mod openapi;
pub mod ops;
pub mod reply;
pub mod session;
pub mod table;
#[cfg(test)]
mod testing;
pub mod toolkit;
pub mod v0;

pub use input::{Ctx, Request};
pub use ops::{
    Bearer, ClientCredentials, Failure, Introspection, NewUser, Operation, Outcome, PasskeyView,
    Reauth, SecondFactor, Secret, Tokens, Transport, UserOp, UserView,
};
pub use reply::Reply;
pub use table::Call;
