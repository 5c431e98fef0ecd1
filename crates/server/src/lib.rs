//! The `warden` binary's library half: configuration, wiring, telemetry and
//! the command line. Only this crate picks concrete adapters.

pub mod app;
pub mod cli;
pub mod config;
pub mod events;
pub mod lock;
pub mod mail;
pub mod social;
pub mod telemetry;
