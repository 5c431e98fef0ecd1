//! Black-box API tests: every test starts its own Warden on port 0 with its
//! own data dir (see `warden-testkit`), talking real HTTP.

mod accounts;
mod admin;
mod bad_input;
mod binary;
mod browser;
mod clients;
mod cookies;
mod edge;
mod faults;
mod forged_tokens;
mod forward_auth;
mod gateway;
mod instances;
mod issuers;
mod lifecycle;
mod look_alikes;
mod mail;
mod mfa;
mod newcomer;
mod openapi_truth;
mod operations;
mod operator_cli;
#[cfg(feature = "otel")]
mod otel;
mod pages;
mod passkeys;
mod propagation;
mod provider;
mod readiness;
mod refresh;
mod refresh_grace;
mod revocations;
mod service_accounts;
mod session_tokens;
mod social;
mod throttling;
mod tickets;
mod undecodable_protobuf;
mod validation;
mod verify_rules;
mod verify_session_tokens;
