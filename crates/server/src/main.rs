use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = warden::cli::Cli::parse();
    match warden::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
