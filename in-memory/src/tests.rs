use open_feature::provider::{FeatureProvider, ProviderStatus};
use open_feature::{
    EvaluationContext, EvaluationErrorCode, EvaluationReason, FlagMetadata, FlagMetadataValue,
    OpenFeature, StructValue,
};

use crate::{InMemoryFlag, InMemoryProvider};

fn context() -> EvaluationContext {
    EvaluationContext::default()
}

#[tokio::test]
async fn a_flag_answers_with_its_value_and_reason_static() {
    let provider = InMemoryProvider::new("p").with_flag("on", InMemoryFlag::new(true));
    let details = provider.resolve_bool_value("on", &context()).await;
    let details = details.map(|d| (d.value, d.variant, d.reason, d.flag_metadata));
    assert_eq!(
        details,
        Ok((true, None, Some(EvaluationReason::Static), None))
    );
}

#[tokio::test]
async fn every_type_answers_with_its_value() {
    let object = StructValue::default().with_field("limit", 3);
    let provider = InMemoryProvider::new("p")
        .with_flag("int", InMemoryFlag::new(7))
        .with_flag("float", InMemoryFlag::new(0.25))
        .with_flag("string", InMemoryFlag::new("blue"))
        .with_flag("object", InMemoryFlag::new(object.clone()));
    let cx = context();
    let int = provider
        .resolve_int_value("int", &cx)
        .await
        .map(|d| d.value);
    let float = provider
        .resolve_float_value("float", &cx)
        .await
        .map(|d| d.value);
    let string = provider
        .resolve_string_value("string", &cx)
        .await
        .map(|d| d.value);
    let obj = provider
        .resolve_struct_value("object", &cx)
        .await
        .map(|d| d.value);
    assert_eq!(int, Ok(7));
    assert_eq!(float, Ok(0.25));
    assert_eq!(string, Ok("blue".to_owned()));
    assert_eq!(obj, Ok(object));
}

#[tokio::test]
async fn variant_reason_and_metadata_are_given_as_set() {
    let flag = InMemoryFlag::new("b")
        .variant("treatment")
        .reason(EvaluationReason::Split)
        .metadata("flagSetId", "checkout")
        .metadata("version", 3)
        .metadata("version", 4);
    let provider = InMemoryProvider::new("p").with_flag("exp", flag);
    let details = provider.resolve_string_value("exp", &context()).await;
    let details = details.map(|d| (d.variant, d.reason, d.flag_metadata));
    let metadata = FlagMetadata::default()
        .with_value("flagSetId", "checkout")
        .with_value("version", 4);
    assert_eq!(
        details,
        Ok((
            Some("treatment".to_owned()),
            Some(EvaluationReason::Split),
            Some(metadata)
        ))
    );
}

#[tokio::test]
async fn a_reason_can_be_removed_or_given_as_an_option() {
    let provider = InMemoryProvider::new("p")
        .with_flag("none", InMemoryFlag::new(true).reason(None))
        .with_flag(
            "some",
            InMemoryFlag::new(true).reason(Some(EvaluationReason::Cached)),
        );
    let cx = context();
    let none = provider
        .resolve_bool_value("none", &cx)
        .await
        .map(|d| d.reason);
    let some = provider
        .resolve_bool_value("some", &cx)
        .await
        .map(|d| d.reason);
    assert_eq!(none, Ok(None));
    assert_eq!(some, Ok(Some(EvaluationReason::Cached)));
}

#[tokio::test]
async fn a_failing_flag_fails_with_its_code_and_message_for_every_type() {
    let code = EvaluationErrorCode::General("backend down".to_owned());
    let provider = InMemoryProvider::new("p")
        .with_flag(
            "broken",
            InMemoryFlag::failing(code.clone(), Some("try later")),
        )
        .with_flag(
            "silent",
            InMemoryFlag::failing(EvaluationErrorCode::ParseError, None),
        );
    let cx = context();
    let expected = Err((code, Some("try later".to_owned())));
    let bool_error = provider.resolve_bool_value("broken", &cx).await;
    assert_eq!(
        bool_error.map(|_| ()).map_err(|e| (e.code, e.message)),
        expected
    );
    let int_error = provider.resolve_int_value("broken", &cx).await;
    assert_eq!(
        int_error.map(|_| ()).map_err(|e| (e.code, e.message)),
        expected
    );
    let silent = provider.resolve_string_value("silent", &cx).await;
    assert_eq!(
        silent.map(|d| d.value).map_err(|e| (e.code, e.message)),
        Err((EvaluationErrorCode::ParseError, None))
    );
}

#[tokio::test]
async fn an_unknown_key_is_flag_not_found() {
    let provider = InMemoryProvider::new("p").with_flag("on", InMemoryFlag::new(true));
    let missing = provider.resolve_bool_value("off", &context()).await;
    assert_eq!(
        missing.map(|d| d.value).map_err(|e| e.code),
        Err(EvaluationErrorCode::FlagNotFound)
    );
}

#[tokio::test]
async fn the_wrong_type_is_type_mismatch() {
    let provider = InMemoryProvider::new("p")
        .with_flag("on", InMemoryFlag::new(true))
        .with_flag("count", InMemoryFlag::new(2));
    let cx = context();
    let as_int = provider.resolve_int_value("on", &cx).await;
    let as_string = provider.resolve_string_value("count", &cx).await;
    let as_struct = provider.resolve_struct_value("on", &cx).await;
    assert_eq!(
        as_int.map(|d| d.value).map_err(|e| e.code),
        Err(EvaluationErrorCode::TypeMismatch)
    );
    assert_eq!(
        as_string.map(|d| d.value).map_err(|e| e.code),
        Err(EvaluationErrorCode::TypeMismatch)
    );
    assert_eq!(
        as_struct.map(|d| d.value).map_err(|e| e.code),
        Err(EvaluationErrorCode::TypeMismatch)
    );
}

#[tokio::test]
async fn the_fallback_answers_keys_without_a_flag_only() {
    let provider = InMemoryProvider::new("p")
        .with_flag("own", InMemoryFlag::new(false).variant("off"))
        .with_fallback(InMemoryFlag::new(true).variant("fallback"));
    let cx = context();
    let own = provider.resolve_bool_value("own", &cx).await;
    let other = provider.resolve_bool_value("any-other-key", &cx).await;
    assert_eq!(
        own.map(|d| (d.value, d.variant)),
        Ok((false, Some("off".to_owned())))
    );
    assert_eq!(
        other.map(|d| (d.value, d.variant)),
        Ok((true, Some("fallback".to_owned())))
    );
}

#[tokio::test]
async fn a_later_flag_replaces_an_earlier_one_under_the_same_key() {
    let provider = InMemoryProvider::new("p")
        .with_flag("k", InMemoryFlag::new(1))
        .with_flag("k", InMemoryFlag::new(2));
    let value = provider.resolve_int_value("k", &context()).await;
    assert_eq!(value.map(|d| d.value), Ok(2));
}

#[test]
fn the_provider_is_named_and_ready() {
    let named = InMemoryProvider::new("flags-under-test");
    assert_eq!(named.metadata().name, "flags-under-test");
    assert_eq!(named.status(), ProviderStatus::Ready);
    assert_eq!(InMemoryProvider::default().metadata().name, "in-memory");
}

#[tokio::test]
async fn a_client_sees_the_flag_and_the_provider_name() {
    let mut api = OpenFeature::default();
    api.set_provider(
        InMemoryProvider::new("in-memory-test").with_flag(
            "new-checkout",
            InMemoryFlag::new(true)
                .variant("on")
                .reason(EvaluationReason::TargetingMatch)
                .metadata("owner", "payments"),
        ),
    )
    .await;
    assert_eq!(api.provider_metadata().await.name, "in-memory-test");
    let client = api.create_client();
    let details = client.get_bool_details("new-checkout", None, None).await;
    let details = details.map(|d| (d.value, d.variant, d.reason, d.flag_metadata.values));
    let metadata = [(
        "owner".to_owned(),
        FlagMetadataValue::String("payments".to_owned()),
    )];
    assert_eq!(
        details,
        Ok((
            true,
            Some("on".to_owned()),
            Some(EvaluationReason::TargetingMatch),
            metadata.into_iter().collect()
        ))
    );
    let failing = client.get_bool_value("absent", None, None).await;
    assert_eq!(
        failing.map_err(|e| e.code),
        Err(EvaluationErrorCode::FlagNotFound)
    );
}
