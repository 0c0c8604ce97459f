//! Sentry: flags on error events (`contexts.flags`) and on spans (`flag.evaluation.<key>`).
//!
//! ```sh
//! SENTRY_DSN=https://<key>@<org>.ingest.sentry.io/<project> cargo run --example sentry --all-features
//! ```

#![allow(clippy::print_stdout)] // an example reports what it does

use std::time::Duration;

use open_feature::OpenFeature;
use openfeature_hooks::TelemetryHook;
use openfeature_hooks::sentry::{SentrySink, add_feature_flag, with_flags_context};
use openfeature_hooks_in_memory::{InMemoryFlag, InMemoryProvider};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The DSN comes from SENTRY_DSN; with_flags_context sends the flags context as Sentry reads it.
    let sentry = sentry::init(with_flags_context(
        sentry::ClientOptions::new().traces_sample_rate(1.0),
    ));
    if !sentry.is_enabled() {
        println!(
            "SENTRY_DSN is not set: nothing will be sent (see the quickstart for a local run)"
        );
    }

    let hook = TelemetryHook::builder().sink(SentrySink::new()).build();
    let guard = hook.shutdown_guard();
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        let mut api = OpenFeature::default();
        api.set_provider(
            InMemoryProvider::new("in-memory")
                .with_flag("new-checkout", InMemoryFlag::new(true))
                .with_flag("dark-mode", InMemoryFlag::new(false)),
        )
        .await;
        api.add_hook(hook).await;
        let client = api.create_client();

        let transaction =
            sentry::start_transaction(sentry::TransactionContext::new("checkout", "task"));
        sentry::configure_scope(|scope| scope.set_span(Some(transaction.clone().into())));
        let _ = client.get_bool_value("new-checkout", None, None).await;
        let _ = client.get_bool_value("dark-mode", None, None).await;
        add_feature_flag("legacy-search", true); // a flag that does not come through OpenFeature
        let id = sentry::capture_message("checkout failed", sentry::Level::Error);
        transaction.finish();
        println!("captured {id}: its flags context has new-checkout, dark-mode and legacy-search");
    });
    // Shutdown order: the hook's guard, then Sentry's.
    drop(guard);
    sentry.flush(Some(Duration::from_secs(5)));
    Ok(())
}
