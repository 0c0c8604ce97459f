//! The future every stage of [`TelemetryHook`](crate::TelemetryHook) returns.
//!
//! The `Hook` trait is declared with `async_trait`, so each stage returns a
//! `Pin<Box<dyn Future>>`. An `async fn` body would be boxed: one heap allocation per stage,
//! three or four per evaluation. The hook's work is synchronous, so it runs when the SDK calls
//! the stage, and the stage returns this zero-sized future, which `Box` does not allocate for.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use open_feature::{EvaluationContext, EvaluationError};

/// What a stage answers when its work is done.
pub(crate) trait StageOutput {
    fn done() -> Self;
}

impl StageOutput for () {
    fn done() -> Self {}
}

impl StageOutput for Result<(), EvaluationError> {
    fn done() -> Self {
        Ok(())
    }
}

impl StageOutput for Result<Option<EvaluationContext>, EvaluationError> {
    fn done() -> Self {
        Ok(None)
    }
}

/// A zero-sized, immediately ready future.
pub(crate) struct StageDone<T>(PhantomData<fn() -> T>);

impl<T: StageOutput> Future for StageDone<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        Poll::Ready(T::done())
    }
}

/// The boxed form the `Hook` trait wants, without an allocation.
pub(crate) fn done<'f, T: StageOutput + 'f>() -> Pin<Box<dyn Future<Output = T> + Send + 'f>> {
    const { assert!(size_of::<StageDone<()>>() == 0) };
    Box::pin(StageDone(PhantomData))
}
