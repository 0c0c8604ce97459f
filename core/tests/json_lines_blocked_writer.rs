//! A JSON-lines writer that blocks (a pipe nobody reads, a writer that sleeps) does not slow
//! evaluations: the lines queue up to the sink's bound, the rest are dropped and counted.
//!
//! Latency is compared with a healthy writer in the same test, in alternating rounds, with a
//! generous bound: this checks that evaluations never wait for the writer (which used to cost
//! a whole write per evaluation, or forever), not a number of nanoseconds.

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use open_feature::{Client, OpenFeature};
use openfeature_hooks_core::{JsonLinesSink, TelemetryHook};

const QUEUE: usize = 64;
const ROUNDS: usize = 5;
const PER_ROUND: usize = 400;

/// A writer that sleeps on every write, as a stalled disk would.
struct Sleepy;

impl Write for Sleepy {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(200));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn client(sink: &JsonLinesSink) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(support::provider()).await;
    api.create_client()
        .with_hook(TelemetryHook::builder().sink(sink.clone()).build())
}

/// Each evaluation's latency, appended to `out`.
async fn evaluate(client: &Client, out: &mut Vec<Duration>) {
    for _ in 0..PER_ROUND {
        let started = Instant::now();
        let value = client.get_bool_value("bool-on", None, None).await;
        out.push(started.elapsed());
        assert_eq!(value, Ok(true));
    }
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort_unstable();
    latencies[latencies.len() * 99 / 100]
}

#[tokio::test]
async fn a_blocked_writer_does_not_slow_evaluations_and_its_drops_are_counted() {
    let (reader, pipe) = std::io::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
    // The healthy writer's queue holds every evaluation of the test: it drops nothing.
    let healthy = JsonLinesSink::new(std::io::sink());
    // Nobody reads the pipe: once its buffer (64 KiB on Linux) is full, every write blocks.
    let full_pipe = JsonLinesSink::new(pipe).with_queue_capacity(QUEUE);
    let sleepy = JsonLinesSink::new(Sleepy).with_queue_capacity(QUEUE);
    let clients = [
        client(&healthy).await,
        client(&full_pipe).await,
        client(&sleepy).await,
    ];
    // Fill the pipe first, so that the rounds below measure a writer that is blocked.
    for _ in 0..(64 * 1024 / 100 + 2 * QUEUE) {
        let _ = clients[1].get_bool_value("bool-on", None, None).await;
    }

    let mut latencies: [Vec<Duration>; 3] = Default::default();
    for _ in 0..ROUNDS {
        for (client, out) in clients.iter().zip(&mut latencies) {
            evaluate(client, out).await;
        }
    }
    let [healthy_p99, pipe_p99, sleepy_p99] = latencies.map(p99);
    let bound = healthy_p99 * 5 + Duration::from_micros(200);
    assert!(
        pipe_p99 <= bound,
        "full pipe p99 {pipe_p99:?}, healthy {healthy_p99:?}"
    );
    assert!(
        sleepy_p99 <= bound,
        "sleepy writer p99 {sleepy_p99:?}, healthy {healthy_p99:?}"
    );

    // The blocked writers could not take everything: the rest was dropped, and counted.
    let evaluated = (ROUNDS * PER_ROUND) as u64;
    assert!(
        full_pipe.stats().dropped >= evaluated - QUEUE as u64 - 1,
        "{:?}",
        full_pipe.stats()
    );
    assert!(
        sleepy.stats().dropped >= evaluated / 2,
        "{:?}",
        sleepy.stats()
    );
    assert!(
        !full_pipe.flush(Duration::from_millis(100)).is_complete(),
        "a blocked writer cannot flush"
    );
    assert_eq!(healthy.stats().dropped, 0, "{:?}", healthy.stats());
    assert!(healthy.flush(Duration::from_secs(10)).is_complete());
    assert_eq!(healthy.stats().handled, evaluated);

    // Unblock the pipe (its writes now fail) so that the sink's thread can stop.
    drop(reader);
    drop(clients);
}
