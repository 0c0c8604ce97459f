//! The enrichment metric, as the DogStatsD lines a UDP socket in the test receives.

mod support;

use std::net::UdpSocket;
use std::time::Duration;

use openfeature_hooks_datadog::EnrichmentMetricSink;
use support::{client, runtime};

#[test]
fn one_gauge_line_per_boolean_evaluation() {
    let agent = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    agent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap_or_else(|e| panic!("{e}"));
    let address = agent
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let sink =
        EnrichmentMetricSink::new(&address, "checkout").unwrap_or_else(|e| panic!("sink: {e}"));
    let runtime = runtime();
    let client = client(&runtime, sink);
    runtime.block_on(async {
        let _ = client.get_bool_value("new-checkout", None, None).await;
        let _ = client.get_bool_value("dark-mode", None, None).await;
        let _ = client.get_string_value("button-color", None, None).await; // not boolean
        let _ = client.get_bool_value("broken", None, None).await; // failed
    });

    let mut lines = Vec::new();
    let mut buffer = [0u8; 2048];
    while lines.len() < 2 {
        let received = agent
            .recv(&mut buffer)
            .unwrap_or_else(|e| panic!("no datagram: {e}"));
        let text = String::from_utf8_lossy(&buffer[..received]).into_owned();
        lines.extend(text.lines().map(str::to_owned));
    }
    assert_eq!(
        lines,
        [
            "dd.dynamic_config.is_experiment_enabled:1|g|#experiment.id:new-checkout,service:checkout",
            "dd.dynamic_config.is_experiment_enabled:0|g|#experiment.id:dark-mode,service:checkout",
        ]
    );
    // Nothing else arrives: the string and the failed evaluation sent no metric.
    agent
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(agent.recv(&mut buffer).is_err());
}
