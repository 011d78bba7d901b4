//! The demo service that ship's images carry: small, but with the dependency graph (tokio, axum,
//! serde, tracing, SQLite) of the services this kit is for.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;

pub mod settings;
pub use settings::Settings;

/// What `/version` reports: enough to tell which build of which commit answered.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: &'static str,
    pub profile: &'static str,
    pub arch: &'static str,
    pub git_rev: &'static str,
}

impl BuildInfo {
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
            profile: env!("SHIP_BUILD_PROFILE"),
            arch: std::env::consts::ARCH,
            git_rev: env!("SHIP_BUILD_GIT_REV"),
        }
    }
}

#[derive(Clone)]
struct AppState {
    // rusqlite's Connection is Send but not Sync; requests are tiny, so one lock is enough.
    db: Arc<Mutex<rusqlite::Connection>>,
    settings: Arc<Settings>,
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    requests: i64,
}

/// The router, with an in-memory SQLite database that counts health checks (it proves the
/// database driver is linked and working in the image, not only compiled).
pub fn app(settings: Settings) -> anyhow::Result<Router> {
    let db = rusqlite::Connection::open_in_memory()?;
    db.execute_batch(
        "CREATE TABLE hits (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL);",
    )?;
    let state = AppState {
        db: Arc::new(Mutex::new(db)),
        settings: Arc::new(settings),
    };
    Ok(Router::new()
        .route("/healthz", get(healthz))
        .route("/version", get(version))
        .route("/settings", get(settings_of))
        .with_state(state))
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, (StatusCode, String)> {
    let db = state.db.clone();
    let counted = tokio::task::spawn_blocking(move || -> Result<i64, String> {
        let db = db.lock().map_err(|_| "database lock poisoned".to_owned())?;
        db.execute("INSERT INTO hits (at) VALUES (datetime('now'))", [])
            .map_err(|e| e.to_string())?;
        db.query_row("SELECT count(*) FROM hits", [], |row| row.get(0))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match counted {
        Ok(requests) => Ok(Json(Health {
            status: "ok",
            requests,
        })),
        Err(e) => Err((StatusCode::SERVICE_UNAVAILABLE, e)),
    }
}

async fn version() -> Json<BuildInfo> {
    Json(BuildInfo::current())
}

async fn settings_of(State(state): State<AppState>) -> Json<Settings> {
    Json(state.settings.as_ref().clone())
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app(settings)?)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Resolves on SIGTERM (what a container runtime sends to stop) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
    }
}

/// Binds `addr` and returns the listener with the address actually bound (port 0 picks one).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
