//! `openfeature-hooks-relay`: relays flag changes from Flipt, LaunchDarkly, Unleash, GrowthBook
//! and GO Feature Flag webhooks to Datadog change events and Sentry change tracking.
//! Configured from the environment: see `RelaySettings` in the library's documentation, or the
//! crate's README.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use openfeature_hooks_datadog::ChangeEvents;
use openfeature_hooks_relay::{
    AuditLog, AuditTarget, DEFAULT_AUDIT_CAPACITY, Destinations, Relay, RelaySettings,
    SentryChanges, serve_until,
};

/// Log lines to standard error (the audit trail may own standard output). Bodies, secrets and
/// the API key are never logged by the relay or its sender.
struct StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{} openfeature-hooks-relay: {}",
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

static LOG: StderrLog = StderrLog;

fn main() -> ExitCode {
    let _ = log::set_logger(&LOG);
    log::set_max_level(log::LevelFilter::Info);
    let settings = match RelaySettings::from_env() {
        Ok(settings) => settings,
        // A variable missing or unreadable: the message names it, never a secret's value.
        Err(error) => {
            log::error!("{error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            log::error!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(settings))
}

async fn run(settings: RelaySettings) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            log::error!("cannot listen on {}: {error}", settings.listen);
            return ExitCode::FAILURE;
        }
    };
    let audit = match &settings.audit {
        AuditTarget::Stdout => Some(AuditLog::stdout(DEFAULT_AUDIT_CAPACITY)),
        AuditTarget::File(path) => match AuditLog::file(path, DEFAULT_AUDIT_CAPACITY) {
            Ok(audit) => Some(audit),
            Err(error) => {
                log::error!("cannot open the audit file {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let mut destinations = Destinations::new();
    if let Some(datadog) = &settings.datadog {
        destinations = destinations.with_datadog(Arc::new(ChangeEvents::start(datadog.clone())));
    }
    if let Some(sentry) = &settings.sentry {
        destinations = destinations.with_sentry(Arc::new(SentryChanges::start(sentry.clone())));
    }
    log::info!(
        "sources: {}; destinations: {}",
        settings.relay.sources().join(", "),
        destinations.names().join(", ")
    );
    let relay = Relay::with_destinations(settings.relay.clone(), destinations, audit);
    match listener.local_addr() {
        Ok(address) => log::info!("listening on {address}"),
        Err(_) => log::info!("listening on {}", settings.listen),
    }
    let bound = settings.shutdown_timeout;
    let drained = serve_until(listener, relay.clone(), shutdown_signal(), bound).await;
    let mut sent = Vec::new();
    if let Some(events) = relay.datadog() {
        let stats = events.stats();
        sent.push(format!(
            "datadog: {} change events sent, {} failed, {} dropped",
            stats.sent, stats.failed, stats.dropped
        ));
    }
    if let Some(sentry) = relay.sentry() {
        let stats = sentry.stats();
        sent.push(format!(
            "sentry: {} changes sent, {} failed ({} invalid), {} dropped",
            stats.sent, stats.failed, stats.invalid, stats.dropped
        ));
    }
    log::info!(
        "stopped: {}; queues {}",
        sent.join("; "),
        if drained {
            "drained"
        } else {
            "not drained within the bound"
        }
    );
    if drained {
        ExitCode::SUCCESS
    } else {
        // Out of time: dropping a sender still stuck on a hanging destination would wait for
        // it again (the Sentry sender's worker waits up to 2 s when dropped), so exit now.
        let _ = std::io::stderr().flush();
        std::process::exit(1);
    }
}

/// `SIGTERM` or `SIGINT`.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
