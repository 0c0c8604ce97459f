//! Serving the relay until a shutdown signal, then stopping within a bound.

use std::future::{Future, IntoFuture};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::Relay;

/// Serves `relay` on `listener` until `shutdown` resolves, then stops within `bound`:
/// new connections are refused at once, requests in progress get a quarter of `bound` to
/// finish, and the rest of it goes to delivering the queued change events and writing the
/// audit lines ([`Relay::shutdown`]). Returns `true` when everything queued was delivered.
pub async fn serve_until(
    listener: TcpListener,
    relay: Relay,
    shutdown: impl Future<Output = ()> + Send + 'static,
    bound: Duration,
) -> bool {
    let stopped_at = Arc::new(OnceLock::<Instant>::new());
    let (stopping, stop) = tokio::sync::oneshot::channel::<()>();
    let signal_time = stopped_at.clone();
    let signal = async move {
        shutdown.await;
        let _ = signal_time.set(Instant::now());
        let _ = stopping.send(());
    };
    let server = axum::serve(listener, relay.router())
        .with_graceful_shutdown(signal)
        .into_future();
    let requests_bound = bound / 4;
    tokio::select! {
        _ = server => {}
        _ = async {
            if stop.await.is_ok() {
                tokio::time::sleep(requests_bound).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {}
    }
    let elapsed = stopped_at.get().map_or(Duration::ZERO, Instant::elapsed);
    let left = bound.saturating_sub(elapsed);
    tokio::task::spawn_blocking(move || relay.shutdown(left))
        .await
        .unwrap_or(false)
}
