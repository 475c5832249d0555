//! Smoke tests: each function's built binary, run as Lambda runs it. The
//! binary (`target/<profile>/<function>`, built by the same test build)
//! starts with the environment the SAM template gives the function, pointed
//! at the local AWS, takes one event from a Lambda Runtime API served here
//! and answers it. This is what no handler test reaches: `main`, the
//! environment read into the configuration, the clients built at start-up
//! and the runtime's (de)serialisation of events and answers.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gate_app::ports::Registry;
use gate_core::{ConnectionState, Effect, Scope, ServicePolicy};
use gate_e2e::{Local, PROVIDER, READER_ROLE, Result, allow_entry, unique};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PREFIX: &str = "/2018-06-01/runtime";
const REQUEST_ID: &str = "8f3a2c1e-smoke-0000-0000-000000000001";
/// Cold start, clients and one sweep of a one-connection service: seconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(90);

#[tokio::test]
async fn decide_binary_sweeps_and_accepts_an_allowlisted_request() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    store.put_policy(&ServicePolicy::cautious(Scope::Any)).await?;
    store.put_entry(&allow_entry("*", "293000000001", Effect::Allow, &[])?).await?;
    let consumer = local.consumer("293000000001", "10.1.0.0/16", &[], true).await?;
    let endpoint = local.request(&consumer, &service).await?;
    let (topic, _) = local.topic_with_queue("smoke-review").await?;
    let (consumers, _) = local.topic_with_queue("smoke-consumers").await?;
    let links = local.link_secret().await?;
    let vars = [
        ("TABLE_NAME", store.table().to_owned()),
        ("REVIEW_TOPIC_ARN", topic),
        ("SERVICE_IDS", service.id.clone()),
        ("CONSUMER_ROLE_TEMPLATE", format!("arn:aws:iam::{{account}}:role/{READER_ROLE}")),
        ("CONCURRENCY", "16".into()),
        ("ACTION_LEASE_SECS", "300".into()),
        ("RESPOND_URL", "https://respond.example.invalid/".into()),
        ("LINK_KEYS_SECRET_ARN", links),
        ("CONSUMER_TOPIC_ARN", consumers),
    ];
    let answer = invoke("decide", "DecideFunction", &vars, sample("decide/scheduled-sweep.json")?).await?;

    assert_eq!(answer.kind, "response", "{answer:?}");
    assert_eq!(answer.body["sweep"], true, "{answer:?}");
    assert_eq!(answer.body["counts"]["accepted"], 1, "{answer:?}");
    let decided = answer.body["decided"].as_array().ok_or("no decided list")?;
    assert!(decided.iter().any(|d| d["endpoint"] == endpoint.as_str()), "{answer:?}");
    assert_eq!(local.state(&endpoint).await?, "available");
    Ok(())
}

#[tokio::test]
async fn record_binary_sweeps_a_new_endpoint_into_the_registry() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let consumer = local.consumer("293000000002", "10.2.0.0/16", &[], false).await?;
    let endpoint = local.request(&consumer, &service).await?;
    let vars = [("TABLE_NAME", store.table().to_owned()), ("SERVICE_IDS", service.id.clone())];
    let answer = invoke("record", "RecordFunction", &vars, sample("record/scheduled-sweep.json")?).await?;

    assert_eq!(answer.kind, "response", "{answer:?}");
    let written = answer.body["written"].as_array().ok_or("no written list")?;
    assert_eq!(written, &[Value::from(endpoint.as_str())], "{answer:?}");
    let entry = store.get(&endpoint.parse()?).await?.ok_or("not in the registry")?;
    assert_eq!(entry.state, ConnectionState::PendingAcceptance);
    Ok(())
}

#[tokio::test]
async fn record_binary_tells_lambda_whether_a_failure_is_worth_retrying() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let consumer = local.consumer("293000000003", "10.3.0.0/16", &[], false).await?;
    local.request(&consumer, &service).await?;
    // No such table: the sweep cannot record, and the invocation fails.
    let vars = [("TABLE_NAME", gate_e2e::unique("no-such-table")), ("SERVICE_IDS", service.id.clone())];
    let answer = invoke("record", "RecordFunction", &vars, sample("record/scheduled-sweep.json")?).await?;

    assert_eq!(answer.kind, "error", "{answer:?}");
    // The function's own classification, not the runtime's name for a boxed error.
    let kind = answer.body["errorType"].as_str().unwrap_or_default();
    assert!(matches!(kind, "Retryable" | "NonRetryable"), "{answer:?}");
    let message = answer.body["errorMessage"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{answer:?}");
    Ok(())
}

#[tokio::test]
async fn respond_binary_refuses_a_tampered_link() -> Result<()> {
    let local = Local::from_env().await;
    let store = local.table().await?;
    let (consumers, _) = local.topic_with_queue("smoke-consumers").await?;
    let vars = [
        ("TABLE_NAME", store.table().to_owned()),
        ("LINK_KEYS_SECRET_ARN", local.link_secret().await?),
        ("CONSUMER_TOPIC_ARN", consumers),
    ];
    let answer = invoke("respond", "RespondFunction", &vars, sample("respond/link-tampered.json")?).await?;

    assert_eq!(answer.kind, "response", "{answer:?}");
    assert_eq!(answer.body["statusCode"], 403, "{answer:?}");
    let page = answer.body["body"].as_str().unwrap_or_default();
    assert!(page.contains("signature does not match"), "{page}");
    Ok(())
}

#[tokio::test]
async fn lookup_binary_refuses_an_unsigned_request() -> Result<()> {
    let local = Local::from_env().await;
    let service = local.service().await?;
    let store = local.table().await?;
    let vars = [
        ("TABLE_NAME", store.table().to_owned()),
        ("SERVICE_IDS", service.id.clone()),
        ("OPERATOR_ARNS", format!("arn:aws:iam::{PROVIDER}:role/NetOps")),
    ];
    let answer = invoke("lookup", "LookupFunction", &vars, sample("lookup/unsigned.json")?).await?;

    assert_eq!(answer.kind, "response", "{answer:?}");
    assert_eq!(answer.body["statusCode"], 401, "{answer:?}");
    let body = answer.body["body"].as_str().unwrap_or_default();
    assert!(body.contains("not signed"), "{body}");
    Ok(())
}

#[tokio::test]
async fn a_function_without_its_configuration_stops_at_start_naming_each_problem() -> Result<()> {
    // TABLE_NAME missing, REVIEW_TOPIC_ARN not an ARN: both named at once.
    let vars = [("REVIEW_TOPIC_ARN", "endpoint-gate-review".to_owned())];
    let mut function = Function::start("decide", &vars, sample("decide/scheduled-sweep.json")?).await?;
    let status = function.exit().await?;
    assert!(!status.success(), "decide started without its configuration");
    let log = function.log();
    assert!(log.contains("TABLE_NAME") && log.contains("REVIEW_TOPIC_ARN"), "{log}");
    let posted = function.api.posted.try_recv().ok();
    assert!(posted.as_ref().is_none_or(|p| p.kind == "init/error"), "it answered: {posted:?}");
    Ok(())
}

/// Starts `function` with `vars`, which must be what infra/template.yaml
/// sets for `resource` (less the variables of optional features), and
/// returns its answer to `event`.
async fn invoke(function: &str, resource: &str, vars: &[(&str, String)], event: Value) -> Result<Posted> {
    let mut given: Vec<&str> = vars.iter().map(|(k, _)| *k).collect();
    given.sort_unstable();
    let mut wanted: Vec<String> =
        template_variables(resource)?.into_iter().filter(|(_, optional)| !optional).map(|(k, _)| k).collect();
    wanted.sort_unstable();
    assert_eq!(given, wanted, "{function} gets other variables than the template sets for {resource}");
    Function::start(function, vars, event).await?.answer().await
}

/// The variables the template sets for a function's resource, each with
/// whether it is set only when an optional parameter is (`!If [.., AWS::NoValue]`).
fn template_variables(resource: &str) -> Result<Vec<(String, bool)>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml"))?;
    let template: serde_norway::Value = serde_norway::from_str(&text)?;
    let vars = template["Resources"][resource]["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .ok_or_else(|| format!("the template sets no variables for {resource}"))?;
    Ok(vars
        .iter()
        .filter_map(|(k, v)| {
            let optional = matches!(v, serde_norway::Value::Tagged(t) if t.tag == "If");
            Some((k.as_str()?.to_owned(), optional))
        })
        .collect())
}

/// A sample event from `events/`.
fn sample(name: &str) -> Result<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    Ok(serde_json::from_str(
        &std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
    )?)
}

/// The function's binary from the same build as this test: the test runs
/// from `target/<profile>/deps/`, the binaries sit in `target/<profile>/`.
fn built_binary(function: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe.parent().and_then(Path::parent).expect("the test runs from target/<profile>/deps");
    let path = dir.join(function);
    assert!(
        path.is_file(),
        "{} is missing: the smoke tests run the functions' binaries, which a workspace test build \
         makes (`cargo nextest run --workspace`); for this package alone, first run \
         `cargo build -p gate-lambdas --bins`",
        path.display()
    );
    path
}

/// What the function posted to the Runtime API.
#[derive(Debug)]
struct Posted {
    /// `response` or `error` for an invocation, `init/error` for start-up.
    kind: String,
    body: Value,
}

/// A function's process, with the Runtime API it polls; killed when dropped.
struct Function {
    name: String,
    child: Child,
    log: PathBuf,
    api: RuntimeApi,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Function {
    /// Starts the binary with Lambda's own variables, the local AWS's
    /// (`AWS_*` from the launcher) and `vars`; nothing else of this
    /// process's environment. Its output goes to target/artefacts/smoke/.
    async fn start(function: &str, vars: &[(&str, String)], event: Value) -> Result<Self> {
        let api = RuntimeApi::serve(function, event).await?;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/artefacts/smoke");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join(format!("{}.log", unique(function)));
        let out = File::create(&log)?;
        let lambda = [
            ("AWS_LAMBDA_RUNTIME_API", api.address.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "smoke".to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ];
        let local_aws =
            std::env::vars().filter(|(k, _)| k.starts_with("AWS_") && !k.starts_with("AWS_LAMBDA_"));
        let child = Command::new(built_binary(function))
            .env_clear()
            .envs(local_aws)
            .envs(lambda)
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        Ok(Self { name: function.to_owned(), child, log, api })
    }

    /// The answer to the event: the first invocation response or error.
    async fn answer(&mut self) -> Result<Posted> {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            if let Ok(Some(posted)) =
                tokio::time::timeout(Duration::from_millis(200), self.api.posted.recv()).await
            {
                if posted.kind == "init/error" {
                    return Err(format!("{} failed to start: {posted:?}\n{}", self.name, self.log()).into());
                }
                return Ok(posted);
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(
                    format!("{} exited ({status}) without answering:\n{}", self.name, self.log()).into()
                );
            }
            if Instant::now() > deadline {
                return Err(
                    format!("{} did not answer in {ANSWER_WITHIN:?}:\n{}", self.name, self.log()).into()
                );
            }
        }
    }

    /// Waits for the process to end by itself.
    async fn exit(&mut self) -> Result<ExitStatus> {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!("{} still runs:\n{}", self.name, self.log()).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_else(|e| format!("(no log at {}: {e})", self.log.display()))
    }
}

/// The Lambda Runtime API on a free loopback port: hands out one event,
/// then holds every further poll open, as Lambda does until a next event.
struct RuntimeApi {
    address: String,
    posted: mpsc::UnboundedReceiver<Posted>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    async fn serve(function: &str, event: Value) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let event = Arc::new(Mutex::new(Some(event)));
        let arn: Arc<str> = format!("arn:aws:lambda:us-east-1:{PROVIDER}:function:{function}").into();
        let (tx, posted) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (event, arn, tx) = (event.clone(), arn.clone(), tx.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (event, arn, tx) = (event.clone(), arn.clone(), tx.clone());
                        async move { Ok::<_, std::convert::Infallible>(route(req, &event, &arn, &tx).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { address, posted, task })
    }
}

async fn route(
    req: Request<Incoming>,
    event: &Mutex<Option<Value>>,
    arn: &str,
    posted: &mpsc::UnboundedSender<Posted>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().strip_prefix(PREFIX).unwrap_or_default().to_owned();
    let reply = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    };
    if req.method() == Method::GET && path == "/invocation/next" {
        let Some(next) = event.lock().expect("the event lock").take() else {
            return std::future::pending().await;
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let mut response = reply(200, next.to_string());
        let headers = response.headers_mut();
        let deadline = (now + ANSWER_WITHIN).as_millis().to_string();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", REQUEST_ID),
            ("lambda-runtime-deadline-ms", deadline.as_str()),
            ("lambda-runtime-invoked-function-arn", arn),
            ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000"),
        ] {
            headers.insert(name, value.parse().expect("a header value"));
        }
        return response;
    }
    let kind = match path.strip_prefix(&format!("/invocation/{REQUEST_ID}/")) {
        Some(kind @ ("response" | "error")) => kind.to_owned(),
        _ if path == "/init/error" => "init/error".to_owned(),
        _ => return reply(404, format!(r#"{{"errorMessage":"no route {path}"}}"#)),
    };
    if req.method() != Method::POST {
        return reply(405, "{}".into());
    }
    let bytes = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    let _ = posted.send(Posted { kind, body });
    reply(202, r#"{"status":"OK"}"#.into())
}
