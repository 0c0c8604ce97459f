//! The provider and client the benches evaluate with.

use open_feature::{Client, EvaluationReason, OpenFeature};

use crate::{FixtureFlag, FixtureProvider};

/// The flag every bench evaluates.
pub const BENCH_FLAG: &str = "new-checkout";

/// A provider named `bench` answering [`BENCH_FLAG`] with `true`, variant `on`, reason
/// `TARGETING_MATCH`: the benches' common evaluation. Add flags with
/// [`FixtureProvider::with_flag`].
pub fn bench_provider() -> FixtureProvider {
    FixtureProvider::new("bench").with_flag(
        BENCH_FLAG,
        FixtureFlag::new(true)
            .variant("on")
            .reason(Some(EvaluationReason::TargetingMatch)),
    )
}

/// A client of a fresh OpenFeature API (not the global one) whose provider is `provider`.
pub async fn fixture_client(provider: FixtureProvider) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(provider).await;
    api.create_client()
}
