//! What the shutdown and burst tests share: the one flag they evaluate, and an API serving it.

// Each test file includes this module and uses part of it.
#![allow(dead_code, unreachable_pub)]

use open_feature::OpenFeature;
use openfeature_hooks_testkit::{FixtureFlag, FixtureProvider};

/// A provider answering `checkout` with `true`, variant `on`.
pub fn checkout_provider() -> FixtureProvider {
    FixtureProvider::new("fixture").with_flag("checkout", FixtureFlag::new(true).variant("on"))
}

/// An OpenFeature API of its own (not the global one) with [`checkout_provider`].
pub async fn checkout_api() -> OpenFeature {
    let mut api = OpenFeature::default();
    api.set_provider(checkout_provider()).await;
    api
}
