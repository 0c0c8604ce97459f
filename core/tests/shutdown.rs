//! The hook's one flush and its guard: every queue behind the hook drained (JSON lines to a
//! file, a queued sink inside `ExposureDedup`), bounded when a writer hangs, and nothing lost
//! without being counted (a failing writer, evaluations after shutdown).

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use open_feature::{Client, OpenFeature};
use openfeature_hooks_core::{ExposureDedup, JsonLinesSink, TelemetryHook};
use openfeature_hooks_testkit::Gate;

const EVALUATIONS: usize = 2_000;
const WAIT: Duration = Duration::from_secs(30);

async fn client(hook: TelemetryHook) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    api.create_client().with_hook(hook)
}

async fn evaluate(client: &Client, times: usize) {
    for _ in 0..times {
        assert_eq!(client.get_bool_value("bool-on", None, None).await, Ok(true));
    }
}

/// A writer that holds every write until its gate opens, counting the writes that got through.
struct GatedWriter {
    gate: Gate,
}

impl Write for GatedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.gate.wait();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer whose destination is gone.
struct Closed(Arc<AtomicU64>);

impl Write for Closed {
    fn write(&mut self, _bytes: &[u8]) -> std::io::Result<usize> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn after_the_guard_drops_the_file_holds_every_line() {
    let dir =
        std::env::temp_dir().join(format!("openfeature-hooks-shutdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("flags.jsonl");
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    // Only the hook holds the sink: nothing else could flush it.
    let hook = TelemetryHook::builder()
        .sink(JsonLinesSink::new(file).with_queue_capacity(EVALUATIONS))
        .build();
    let guard = hook.shutdown_guard();
    let client = client(hook.clone()).await;
    evaluate(&client, EVALUATIONS).await;

    drop(guard);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text.lines().count(), EVALUATIONS);
    assert!(
        text.lines()
            .all(|line| line.contains(r#""flag_key":"bool-on""#))
    );
    assert_eq!(hook.stats().lost, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_hooks_flush_reaches_a_queued_sink_inside_a_wrapper() {
    let (reader, pipe) = std::io::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    // A queued sink behind `ExposureDedup` keeps a queue of its own, which only the wrapper
    // can reach. Different contexts (and a flag without a `contextId` in its metadata), so
    // that every evaluation passes.
    let hook = TelemetryHook::builder()
        .sink(ExposureDedup::new(
            JsonLinesSink::new(pipe).with_queue_capacity(EVALUATIONS),
        ))
        .build();
    let client = client(hook.clone()).await;
    for user in 0..EVALUATIONS {
        let context =
            open_feature::EvaluationContext::default().with_targeting_key(format!("user-{user}"));
        let value = client.get_bool_value("plain", Some(&context), None).await;
        assert_eq!(value, Ok(false));
    }
    // The pipe is read on another thread: a pipe's buffer holds fewer lines than this.
    let read =
        std::thread::spawn(move || std::io::read_to_string(reader).map(|t| t.lines().count()));
    assert!(hook.shutdown(WAIT).is_complete());
    drop(hook);
    drop(client);
    let lines = read.join().ok().and_then(Result::ok);
    assert_eq!(lines, Some(EVALUATIONS));
}

#[tokio::test]
async fn a_hung_writer_makes_shutdown_return_at_its_timeout_with_the_count_left() {
    let gate = Gate::default();
    let hook = TelemetryHook::builder()
        .sink(
            JsonLinesSink::new(GatedWriter { gate: gate.clone() }).with_queue_capacity(EVALUATIONS),
        )
        .build();
    let client = client(hook.clone()).await;
    evaluate(&client, EVALUATIONS).await;

    let timeout = Duration::from_millis(200);
    let started = Instant::now();
    let outcome = hook.shutdown(timeout);
    let took = started.elapsed();
    assert!(!outcome.is_complete());
    assert!(
        took >= timeout && took < timeout + Duration::from_secs(5),
        "{took:?}"
    );
    // Every record waits, in the queue or in the worker's hands (it formats a whole chunk
    // before the write that hangs).
    assert_eq!(outcome.left, EVALUATIONS as u64, "{outcome:?}");

    // The guard is bounded the same way.
    let guard = hook.shutdown_guard().with_timeout(timeout);
    let started = Instant::now();
    drop(guard);
    assert!(started.elapsed() < timeout + Duration::from_secs(5));
    gate.open();
    assert!(hook.flush(WAIT).is_complete());
}

#[tokio::test]
async fn a_failing_writer_and_evaluations_after_shutdown_are_counted_as_lost() {
    let writes = Arc::new(AtomicU64::new(0));
    let lines = JsonLinesSink::new(Closed(writes.clone()));
    let hook = TelemetryHook::builder().sink(lines.clone()).build();
    let client = client(hook.clone()).await;
    evaluate(&client, 100).await;

    assert!(hook.flush(WAIT).is_complete());
    assert!(writes.load(Ordering::Relaxed) > 0);
    let stats = lines.stats();
    assert_eq!(stats.lost, 100, "{stats:?}");
    assert_eq!(stats.handled, 0, "nothing went anywhere: {stats:?}");
    assert_eq!(hook.stats().lost, 100);

    assert!(hook.shutdown(WAIT).is_complete());
    evaluate(&client, 7).await;
    let stats = hook.stats();
    assert_eq!(stats.after_shutdown, 7, "{stats:?}");
    assert_eq!(stats.lost, 107, "{stats:?}");
    assert!(hook.flush(WAIT).is_complete());
    assert_eq!(
        lines.stats().queued,
        100,
        "nothing reached the sink after shutdown"
    );
}
