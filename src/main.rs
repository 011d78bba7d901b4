use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The demo HTTP service: GET /healthz and GET /version.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Directory holding service.json, read at start-up.
    #[arg(long, env = "APP_CONFIG_DIR", default_value = "configuration")]
    config_dir: PathBuf,
    /// The environment this instance runs in, reported by /settings.
    #[arg(long, env = "APP_ENVIRONMENT", default_value = "local")]
    environment: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    // Read before binding, so a broken configuration stops the service before it takes traffic.
    let settings = demo_service::Settings::load(
        &args.config_dir,
        args.environment,
        std::env::var_os("SSL_CERT_FILE").map(PathBuf::from),
    )?;
    let (listener, local) = demo_service::bind(args.listen).await?;
    // Printed on stdout (not only logged) so scripts and tests can find an ephemeral port.
    println!("listening on {local}");
    tracing::info!(build = ?demo_service::BuildInfo::current(), "started");
    demo_service::serve(listener, settings, demo_service::shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
