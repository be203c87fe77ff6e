//! Integration tests: the real `latchkey` binary over real sockets with a real store.

mod adversarial;
mod cli;
mod connections;
mod crash;
mod cross;
mod forward;
mod house;
mod interop;
mod introspection;
mod limits;
mod logs;
mod metrics;
mod oauth;
mod openapi;
mod policy;
mod readme;
mod refresh;
mod rules;
mod server;
mod session;
mod states;
mod support;
mod timing;
mod toolkit;
mod v0;
