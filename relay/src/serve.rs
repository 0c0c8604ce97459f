//! Serving the relay until a shutdown signal, then stopping within a bound.

use std::future::{Future, IntoFuture};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

use crate::Relay;

/// Serves `relay`'s [`router`](Relay::router) on `listener` until `shutdown` resolves, then
/// stops within `bound`: new connections are refused at once, requests in progress get a
/// quarter of `bound` to finish, and the rest of it goes to delivering the queued changes to
/// every destination and writing the audit lines ([`Relay::shutdown`]). Returns `true` when
/// everything queued was delivered.
///
/// This is what the binary runs, for a relay in a process of its own. A service that mounts
/// the router in its own server calls [`Relay::shutdown`] when that server stops.
///
/// ```no_run
/// # async fn run(relay: openfeature_hooks_relay::Relay) -> std::io::Result<()> {
/// use std::time::Duration;
///
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// let stop = async {
///     let _ = tokio::signal::ctrl_c().await;
/// };
/// let bound = Duration::from_secs(10);
/// let drained = openfeature_hooks_relay::serve_until(listener, relay, stop, bound).await;
/// # let _ = drained;
/// # Ok(())
/// # }
/// ```
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
