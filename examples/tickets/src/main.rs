//! `tickets`: see the crate docs and examples/tickets/README.md.

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = tickets::Config::parse();
    config.revocations_token = std::env::var("TICKETS_REVOCATIONS_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let service = tickets::Service::build(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    // Scripts (examples/demo.sh, tests) wait for this line.
    println!("tickets listening on http://{}", listener.local_addr()?);
    service.serve(listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
