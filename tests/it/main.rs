//! Integration tests: the real `latchkey` binary over real sockets with a real store.

mod cli;
mod interop;
mod oauth;
mod refresh;
mod server;
mod support;
mod toolkit;
mod v0;
