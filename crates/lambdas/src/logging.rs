//! The functions' log lines: the level and format Lambda's advanced logging
//! controls set (`AWS_LAMBDA_LOG_LEVEL`, `AWS_LAMBDA_LOG_FORMAT`: Lambda
//! Developer Guide, "Configuring advanced logging controls for Lambda
//! functions"), as `lambda_runtime`'s default subscriber reads them, with
//! one difference: below INFO the level reaches Endpoint Gate's own crates
//! only.
//!
//! Other crates log secrets at DEBUG and TRACE: `lambda_runtime` writes
//! every raw event at TRACE (respond's are signed links and Slack bodies,
//! lookup's carry presigned query strings), and the SDK writes requests
//! with their signing headers, session token included. An operator who
//! turns the level up to chase a problem must not publish those to
//! everyone who reads the log group.
//!
//! A JSON line carries an RFC 3339 `timestamp` and the invocation's span
//! once. For a custom runtime, Lambda reads a JSON line's `level` and
//! `timestamp`, and a line without a valid timestamp may be taken as INFO
//! (Lambda Developer Guide, "Log-level filtering"), so a WARN line would
//! fall to an `ApplicationLogLevel` of WARN. The span list that
//! `tracing-subscriber` adds by default repeats the one span the functions
//! open (the request id and trace id): about a quarter of decide's log bytes,
//! which CloudWatch Logs bills on ingestion.

use std::str::FromStr;

use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::format::{DefaultFields, Format, Full, Json, JsonFields};
use lambda_runtime::tracing::subscriber::fmt::time::SystemTime;
use lambda_runtime::tracing::subscriber::fmt::{self, MakeWriter, SubscriberBuilder};

/// The crates whose own lines follow the chosen level all the way down.
const OURS: [&str; 5] = ["gate_core", "gate_app", "gate_aws", "gate_inputs", "gate_lambdas"];

/// Installs the subscriber for this process, writing to stdout.
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let level = level(var("AWS_LAMBDA_LOG_LEVEL").or_else(|| var("RUST_LOG")).as_deref());
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let collector = subscriber(level, std::io::stdout);
    if json { as_json(collector).init() } else { collector.without_time().init() }
}

/// The level a setting names; INFO when it names none.
pub fn level(setting: Option<&str>) -> LevelFilter {
    setting.and_then(|s| LevelFilter::from_str(s).ok()).unwrap_or(LevelFilter::INFO)
}

/// The SDK's warning for every AssumeRole that STS answers with an error
/// (a refusal, a throttle, an expired token). A consumer without the reader
/// role is refused on the first decision for its account in each execution
/// environment. The functions log every such failure themselves, in one
/// line: `consumer CIDRs unavailable` with the role and the error's code,
/// the sweep's failure report, or the Organizations warning. The SDK's
/// line repeats it with the whole error, about 1 KB that CloudWatch Logs
/// bills.
const REPEATED: [&str; 1] = ["aws_config::sts::assume_role"];

/// The filter for `level`: other crates never below INFO, and the
/// [`REPEATED`] lines only at ERROR.
pub fn filter(level: LevelFilter) -> EnvFilter {
    let others = level.min(LevelFilter::INFO);
    let ours = OURS.iter().map(|krate| format!(",{krate}={level}")).collect::<String>();
    let quiet = level.min(LevelFilter::ERROR);
    let repeated = REPEATED.iter().map(|target| format!(",{target}={quiet}")).collect::<String>();
    EnvFilter::new(format!("{others}{ours}{repeated}"))
}

/// `lambda_runtime`'s default subscriber (no target), with [`filter`] and
/// an RFC 3339 time, which a text line drops: Lambda adds its own there.
fn subscriber<W>(
    level: LevelFilter,
    writer: W,
) -> SubscriberBuilder<DefaultFields, Format<Full, SystemTime>, EnvFilter, W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::fmt().with_target(false).with_timer(SystemTime).with_env_filter(filter(level)).with_writer(writer)
}

/// The JSON form of `collector`: the current span once.
fn as_json<W>(
    collector: SubscriberBuilder<DefaultFields, Format<Full, SystemTime>, EnvFilter, W>,
) -> SubscriberBuilder<JsonFields, Format<Json, SystemTime>, EnvFilter, W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    collector.json().with_span_list(false)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use lambda_runtime::tracing;

    use super::*;

    /// Everything the subscriber writes, kept.
    #[derive(Clone, Default)]
    struct Kept(Arc<Mutex<Vec<u8>>>);

    impl Write for Kept {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn written_at(setting: &str) -> String {
        let kept = Kept::default();
        let writer = kept.clone();
        let subscriber = subscriber(level(Some(setting)), move || writer.clone()).finish();
        tracing::dispatcher::with_default(&tracing::Dispatch::new(subscriber), || {
            // What lambda_runtime writes for every event at TRACE.
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "sig=abc123", "raw JSON event received from Lambda");
            tracing::debug!(target: "aws_sigv4::http_request::sign", "x-amz-security-token:FwoGZXIvYXdzE");
            tracing::info!(target: "aws_smithy_runtime::client::orchestrator", "an SDK line at INFO");
            tracing::trace!(target: "gate_lambdas::respond", "our line at TRACE");
            tracing::debug!(target: "gate_aws::dynamo", "our line at DEBUG");
            tracing::warn!(target: "aws_config::sts::assume_role", "STS refused to grant assume role");
            tracing::warn!(target: "gate_aws::networks", "consumer CIDRs unavailable");
        });
        let bytes = kept.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn turning_the_level_up_reaches_our_lines_and_never_other_crates_secrets() {
        let trace = written_at("TRACE");
        assert!(trace.contains("our line at TRACE") && trace.contains("our line at DEBUG"), "{trace}");
        assert!(trace.contains("an SDK line at INFO"), "{trace}");
        assert!(!trace.contains("sig=abc123") && !trace.contains("FwoGZXIvYXdzE"), "{trace}");

        let info = written_at("INFO");
        assert!(info.contains("an SDK line at INFO") && !info.contains("our line"), "{info}");
        // Down is down for everyone.
        let warn = written_at("WARN");
        assert!(!warn.contains("an SDK line"), "{warn}");
    }

    #[test]
    fn the_sdks_assume_role_warning_is_left_out_and_ours_is_kept() {
        for setting in ["TRACE", "INFO", "WARN"] {
            let written = written_at(setting);
            assert!(written.contains("consumer CIDRs unavailable"), "{setting}: {written}");
            assert!(!written.contains("STS refused"), "{setting}: {written}");
        }
        let off = written_at("OFF");
        assert!(off.is_empty(), "{off}");
    }

    #[test]
    fn a_json_line_has_its_level_a_timestamp_and_the_invocation_once() {
        let kept = Kept::default();
        let writer = kept.clone();
        let subscriber = as_json(subscriber(LevelFilter::INFO, move || writer.clone())).finish();
        tracing::dispatcher::with_default(&tracing::Dispatch::new(subscriber), || {
            // The span lambda_runtime opens around each invocation.
            let span = tracing::info_span!(
                "Lambda runtime invoke",
                requestId = "req-7f3a",
                xrayTraceId = "Root=1-x"
            );
            let _entered = span.enter();
            tracing::warn!(target: "gate_lambdas::decide", endpoint_id = "vpce-1", "consumer CIDRs unavailable");
        });
        let bytes = kept.0.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");

        assert_eq!(line["level"], "WARN", "{text}");
        assert_eq!(line["fields"]["message"], "consumer CIDRs unavailable", "{text}");
        assert_eq!(line["span"]["requestId"], "req-7f3a", "{text}");
        assert_eq!(text.matches("req-7f3a").count(), 1, "the span is written once: {text}");
        let written = line["timestamp"].as_str().expect("a timestamp");
        let at = aws_smithy_types::DateTime::from_str(written, aws_smithy_types::date_time::Format::DateTime)
            .expect("RFC 3339");
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        assert!((now.secs() - at.secs()).abs() <= 5, "{written} is not now");
    }

    #[test]
    fn the_level_comes_from_lambdas_setting_and_defaults_to_info() {
        assert_eq!(level(Some("DEBUG")), LevelFilter::DEBUG);
        assert_eq!(level(Some("warn")), LevelFilter::WARN);
        assert_eq!(level(None), LevelFilter::INFO);
        assert_eq!(level(Some("loud")), LevelFilter::INFO);
    }
}
