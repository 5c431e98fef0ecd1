//! `warden gateway` as a real process between a real HTTP client and an
//! echo upstream, with a real Warden behind `/auth/` (the harness is
//! `warden_testkit::gateway`): authentication, identity headers, path tricks
//! (checklist 46-47), upstream failures, revocation, browser mode, WebSocket,
//! streaming, SIGHUP reload, readiness and metrics.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use warden_testkit::gateway::{Gateway, raw_status, setup, setup_on, setup_routes, setup_with};
use warden_testkit::{ALLOWED_ORIGIN, STRONG_PASSWORD, assert_problem, spawn_app, unique_email};

mod identity;
mod operations;
mod revocation;
mod upstreams;
