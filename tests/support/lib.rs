//! The local AWS world of the end-to-end tests and the demo: a provider
//! account with endpoint services, consumer accounts with VPCs, and the
//! real Endpoint Gate adapters pointed at DynamoDB Local and moto.
//!
//! The servers are started by `tests/localenv/local_aws.py`, which exports
//! the SDK's standard endpoint variables; nothing here knows another way
//! to reach AWS.

pub mod function_url;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ec2::types::{Filter, VpcEndpointType};
use aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum;
use gate_app::Decide;
use gate_aws::DynamoStore;
use gate_aws::wiring::Wiring;
use gate_lambdas::config::DecideConfig;
use gate_lambdas::decide::DecideFn;
use gate_lambdas::respond::Responder;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

/// The provider account moto uses for plain credentials.
pub const PROVIDER: &str = "123456789012";
/// The role every consumer account lets the provider's tests assume to set
/// up its VPCs (AWS Organizations creates it in member accounts).
pub const ADMIN_ROLE: &str = "OrganizationAccountAccessRole";
/// The read-only role Endpoint Gate assumes to read consumer CIDRs.
pub const READER_ROLE: &str = "EndpointGateCidrReader";

/// The time now: these tests run against real clocks (moto, DynamoDB
/// Local, the CLI), so they read the clock where the product's edges do.
pub fn now() -> gate_core::Timestamp {
    gate_core::Timestamp::from(SystemTime::now())
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// A name no other test in this run uses.
/// A binary of the workspace, built by the same `cargo test` or `cargo
/// nextest run --workspace` that built this test (it sits beside `deps/`).
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let path = exe.ancestors().nth(2).unwrap_or(std::path::Path::new(".")).join(name);
    assert!(
        path.is_file(),
        "{} is not built: run the workspace's tests (make test), or cargo build --bins first",
        path.display()
    );
    path
}

pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or_default();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), UNIQUE.fetch_add(1, Ordering::Relaxed))
}

/// The local AWS environment, as exported by the launcher.
#[derive(Debug, Clone)]
pub struct Local {
    pub sdk: SdkConfig,
    pub moto_url: String,
    /// The Slack recorder: `/api` is its Web API, `/hooks/` its response URLs.
    pub slack_url: String,
    /// The bot token the recorder accepts.
    pub slack_token: String,
}

/// The Slack app's signing secret in the local environment.
pub const SLACK_SIGNING_SECRET: &str = "local-slack-signing-secret-0123456789";

/// A published endpoint service in the provider account.
#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub name: String,
}

/// A consumer account with one VPC and subnet.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub account: String,
    pub sdk: SdkConfig,
    pub vpc_id: String,
    pub subnet_id: String,
}

impl Local {
    /// Connects to the environment the launcher started. Panics with the
    /// command to use when run outside it.
    pub async fn from_env() -> Self {
        let Ok(moto_url) = std::env::var("GATE_LOCAL_MOTO_URL") else {
            panic!(
                "the local AWS environment is not running: run the end-to-end tests with `make test` \
                 (or `python3 tests/localenv/local_aws.py -- cargo test -p gate-e2e`)"
            );
        };
        let var =
            |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set by the launcher"));
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self {
            sdk,
            moto_url,
            slack_url: var("GATE_LOCAL_SLACK_URL"),
            slack_token: var("GATE_LOCAL_SLACK_TOKEN"),
        }
    }

    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.sdk)
    }

    /// Credentials for another account, through its admin role.
    pub async fn account(&self, account: &str) -> SdkConfig {
        let arn = format!("arn:aws:iam::{account}:role/{ADMIN_ROLE}");
        let provider =
            AssumeRoleProvider::builder(arn).session_name("gate-e2e").configure(&self.sdk).build().await;
        self.sdk
            .to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(provider))
            .build()
    }

    /// A fresh, empty table with Endpoint Gate's schema.
    pub async fn table(&self) -> Result<DynamoStore> {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), unique("gate"));
        store.ensure_table().await?;
        Ok(store)
    }

    /// An endpoint service behind a new NLB, acceptance required.
    pub async fn service(&self) -> Result<Service> {
        let ec2 = self.ec2();
        let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await?;
        let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).ok_or("no vpc id")?.to_owned();
        let subnet = ec2.create_subnet().vpc_id(&vpc_id).cidr_block("10.0.1.0/24").send().await?;
        let subnet_id = subnet.subnet().and_then(|s| s.subnet_id()).ok_or("no subnet id")?.to_owned();
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk);
        let lb = elb
            .create_load_balancer()
            .name(unique("nlb").chars().take(32).collect::<String>())
            .r#type(LoadBalancerTypeEnum::Network)
            .subnets(subnet_id)
            .send()
            .await?;
        let lb_arn =
            lb.load_balancers().first().and_then(|l| l.load_balancer_arn()).ok_or("no NLB arn")?.to_owned();
        let svc = ec2
            .create_vpc_endpoint_service_configuration()
            .acceptance_required(true)
            .network_load_balancer_arns(lb_arn)
            .send()
            .await?;
        let cfg = svc.service_configuration().ok_or("no service configuration")?;
        let id = cfg.service_id().ok_or("no service id")?.to_owned();
        // Consumers may only request endpoints to services that allow them.
        ec2.modify_vpc_endpoint_service_permissions()
            .service_id(&id)
            .add_allowed_principals("*")
            .send()
            .await?;
        Ok(Service { id, name: cfg.service_name().ok_or("no service name")?.to_owned() })
    }

    /// A consumer account with a VPC of `cidr` (plus `extra` CIDR blocks),
    /// and, when `readable`, the read-only role Endpoint Gate assumes.
    pub async fn consumer(
        &self,
        account: &str,
        cidr: &str,
        extra: &[&str],
        readable: bool,
    ) -> Result<Consumer> {
        let sdk = self.account(account).await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpc = ec2.create_vpc().cidr_block(cidr).send().await?;
        let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).ok_or("no vpc id")?.to_owned();
        for block in extra {
            ec2.associate_vpc_cidr_block().vpc_id(&vpc_id).cidr_block(*block).send().await?;
        }
        let subnet_block = first_subnet(cidr);
        let subnet = ec2.create_subnet().vpc_id(&vpc_id).cidr_block(subnet_block).send().await?;
        let subnet_id = subnet.subnet().and_then(|s| s.subnet_id()).ok_or("no subnet id")?.to_owned();
        if readable {
            let iam = aws_sdk_iam::Client::new(&sdk);
            let trust = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{PROVIDER}:root"}},"Action":"sts:AssumeRole"}}]}}"#
            );
            let created =
                iam.create_role().role_name(READER_ROLE).assume_role_policy_document(trust).send().await;
            if let Err(e) = created {
                // A second VPC in the same account finds the role there already.
                let exists = format!("{e:?}").contains("EntityAlreadyExists");
                if !exists {
                    return Err(e.into());
                }
            }
        }
        Ok(Consumer { account: account.to_owned(), sdk, vpc_id, subnet_id })
    }

    /// The consumer's CreateVpcEndpoint to a service: a connection request.
    pub async fn request(&self, consumer: &Consumer, service: &Service) -> Result<String> {
        let ec2 = aws_sdk_ec2::Client::new(&consumer.sdk);
        let out = ec2
            .create_vpc_endpoint()
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .vpc_id(&consumer.vpc_id)
            .subnet_ids(&consumer.subnet_id)
            .service_name(&service.name)
            .send()
            .await?;
        Ok(out.vpc_endpoint().and_then(|e| e.vpc_endpoint_id()).ok_or("no endpoint id")?.to_owned())
    }

    /// The connection's state as the provider sees it.
    pub async fn state(&self, endpoint: &str) -> Result<String> {
        let out = self
            .ec2()
            .describe_vpc_endpoint_connections()
            .filters(Filter::builder().name("vpc-endpoint-id").values(endpoint).build())
            .send()
            .await?;
        let conn =
            out.vpc_endpoint_connections().first().ok_or_else(|| format!("no connection for {endpoint}"))?;
        Ok(conn.vpc_endpoint_state().map(|s| s.as_str().to_owned()).unwrap_or_default())
    }

    /// An SNS topic with an SQS queue subscribed, to read what was published.
    pub async fn topic_with_queue(&self, name: &str) -> Result<(String, String)> {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let topic = sns.create_topic().name(unique(name)).send().await?;
        let topic_arn = topic.topic_arn().ok_or("no topic arn")?.to_owned();
        let (queue_url, queue_arn) = self.queue(&format!("{name}-inbox")).await?;
        sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(queue_arn).send().await?;
        Ok((topic_arn, queue_url))
    }

    /// A new SQS queue: its URL and ARN.
    async fn queue(&self, name: &str) -> Result<(String, String)> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let queue = sqs.create_queue().queue_name(unique(name)).send().await?;
        let queue_url = queue.queue_url().ok_or("no queue url")?.to_owned();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .ok_or("no queue arn")?
            .clone();
        Ok((queue_url, queue_arn))
    }

    /// A queue standing in for one approver's mailbox: subscribed to the
    /// topic with the filter policy `endpoint-gate apply` gives the
    /// approver's email subscription.
    pub async fn approver_inbox(&self, topic_arn: &str, approver: &str) -> Result<String> {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let (queue_url, queue_arn) = self.queue("approver-inbox").await?;
        sns.subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("FilterPolicy", gate_aws::review_topic::filter_policy(approver))
            .send()
            .await?;
        Ok(queue_url)
    }

    /// A queue standing in for a consumer contact's mailbox: subscribed to
    /// the consumer topic with the filter policy `endpoint-gate apply`
    /// gives the contact's email subscription.
    pub async fn contact_inbox(&self, topic_arn: &str, accounts: &[&str]) -> Result<String> {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let (queue_url, queue_arn) = self.queue("contact-inbox").await?;
        let accounts: Vec<gate_core::AccountId> =
            accounts.iter().map(|a| a.parse()).collect::<std::result::Result<_, _>>()?;
        sns.subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("FilterPolicy", gate_aws::consumer_topic::consumer_filter_policy(&accounts))
            .attributes("FilterPolicyScope", "MessageAttributes")
            .send()
            .await?;
        Ok(queue_url)
    }

    /// Every SNS envelope waiting on the queue (JSON with Subject, Message,
    /// MessageAttributes).
    pub async fn drain(&self, queue_url: &str) -> Result<Vec<serde_json::Value>> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut out = Vec::new();
        loop {
            let got = sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).send().await?;
            if got.messages().is_empty() {
                return Ok(out);
            }
            for m in got.messages() {
                out.push(serde_json::from_str(m.body().unwrap_or("null"))?);
                if let Some(h) = m.receipt_handle() {
                    sqs.delete_message().queue_url(queue_url).receipt_handle(h).send().await?;
                }
            }
        }
    }

    /// The decide function's configuration for a test's table and topic.
    pub fn decide_config(&self, table: &str, topic_arn: &str, services: &[&Service]) -> DecideConfig {
        let vars: HashMap<&str, String> = HashMap::from([
            ("TABLE_NAME", table.to_owned()),
            ("REVIEW_TOPIC_ARN", topic_arn.to_owned()),
            ("CONSUMER_ROLE_TEMPLATE", format!("arn:aws:iam::{{account}}:role/{READER_ROLE}")),
            ("SERVICE_IDS", services.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(",")),
        ]);
        DecideConfig::from_lookup(|k| vars.get(k).cloned()).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A link-signing secret in Secrets Manager, as `make deploy` expects it.
    pub async fn link_secret(&self) -> Result<String> {
        let key = |tag: &str| format!("{tag}-{}-0123456789abcdefghijklmnop", unique("k"));
        let value = serde_json::json!({"current": key("current"), "previous": key("previous")}).to_string();
        let out = aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(unique("endpoint-gate-link-keys"))
            .secret_string(value)
            .send()
            .await?;
        Ok(out.arn().ok_or("no secret arn")?.to_owned())
    }

    /// The Slack app's secret in Secrets Manager: the signing secret and the
    /// bot token the local recorder accepts.
    pub async fn slack_secret(&self) -> Result<String> {
        let value =
            serde_json::json!({"signing_secret": SLACK_SIGNING_SECRET, "bot_token": self.slack_token})
                .to_string();
        let out = aws_sdk_secretsmanager::Client::new(&self.sdk)
            .create_secret()
            .name(unique("endpoint-gate-slack"))
            .secret_string(value)
            .send()
            .await?;
        Ok(out.arn().ok_or("no secret arn")?.to_owned())
    }

    /// Slack as the functions see it here: the recorder instead of Slack.
    pub fn slack_config(&self, secret_arn: &str) -> gate_lambdas::config::SlackConfig {
        gate_lambdas::config::SlackConfig {
            secret_arn: secret_arn.to_owned(),
            api_url: format!("{}/api", self.slack_url),
        }
    }

    /// respond's Slack route: the app, and the recorder's hooks for replies.
    pub fn respond_slack(&self, secret_arn: &str) -> gate_lambdas::config::RespondSlack {
        gate_lambdas::config::RespondSlack {
            app: self.slack_config(secret_arn),
            hooks_url: format!("{}/hooks/", self.slack_url),
        }
    }

    /// Answers on a test's table, as the CLI gives them.
    pub fn answer(&self, table: &str) -> gate_app::Answer {
        Wiring::new(&self.sdk, table).answer(None)
    }

    /// The respond function's responder, built the way the Lambda builds it.
    pub async fn responder(&self, config: &gate_lambdas::config::RespondConfig) -> Result<Responder> {
        let wiring = Wiring::new(&self.sdk, &config.table_name);
        Ok(Responder::build(config, &wiring, now()).await.map_err(|e| e.chain())?)
    }

    /// Everything the Slack recorder got, oldest first.
    pub fn slack_log(&self) -> Result<Vec<serde_json::Value>> {
        Ok(serde_json::from_str(&http_get(&self.slack_url, "/_slack/log")?)?)
    }

    /// A decide configuration whose review emails carry approval links.
    pub fn decide_config_with_links(
        &self,
        table: &str,
        topic_arn: &str,
        services: &[&Service],
        secret_arn: &str,
    ) -> DecideConfig {
        let mut config = self.decide_config(table, topic_arn, services);
        config.links = Some(gate_lambdas::config::LinkConfig {
            respond_url: "https://respond.example.invalid".into(),
            keys_secret_arn: secret_arn.to_owned(),
            ttl_secs: 3 * 86_400,
        });
        config
    }

    /// Connection notifications of every kind (Connect, Accept, Reject,
    /// Delete) for a service, to an SNS topic.
    pub async fn notify(&self, service: &Service, topic_arn: &str) -> Result<()> {
        self.ec2()
            .create_vpc_endpoint_connection_notification()
            .service_id(&service.id)
            .connection_notification_arn(topic_arn)
            .set_connection_events(Some(["Connect", "Accept", "Reject", "Delete"].map(String::from).to_vec()))
            .send()
            .await?;
        Ok(())
    }

    /// The record function's recorder on a test's table.
    pub fn recorder(&self, table: &str, services: &[&Service]) -> gate_app::record::Recorder {
        let config = gate_lambdas::config::RecordConfig {
            table_name: table.to_owned(),
            service_ids: services
                .iter()
                .map(|s| s.id.parse())
                .collect::<std::result::Result<_, _>>()
                .unwrap_or_default(),
        };
        Wiring::new(&self.sdk, &config.table_name).recorder(config.service_ids)
    }

    /// The real decider, built the way the Lambda builds it.
    pub async fn decider(&self, config: &DecideConfig) -> Decide {
        let wiring = Wiring::new(&self.sdk, &config.table_name);
        let built = DecideFn::build(config, &wiring).await.unwrap_or_else(|e| panic!("{}", e.chain()));
        built.decide
    }

    /// How many times each AWS action reached moto, for one service's
    /// calls when `service` is given.
    pub fn calls(&self, service: Option<&str>) -> Result<HashMap<String, u64>> {
        let path = match service {
            Some(s) => format!("/_gate/calls?service_id={s}"),
            None => "/_gate/calls".to_owned(),
        };
        let body = http_get(&self.moto_url, &path)?;
        Ok(serde_json::from_str(&body)?)
    }

    /// How many calls of each AWS action named this role (`AssumeRole`):
    /// one test's own, whatever runs beside it.
    pub fn role_calls(&self, role_arn: &str) -> Result<HashMap<String, u64>> {
        let body = http_get(&self.moto_url, &format!("/_gate/calls?role_arn={role_arn}"))?;
        Ok(serde_json::from_str(&body)?)
    }

    /// How many calls of each AWS action named this endpoint (an Accept or
    /// Reject names a list; each call counts once for each endpoint in it).
    pub fn endpoint_calls(&self, endpoint: &str) -> Result<HashMap<String, u64>> {
        let body = http_get(&self.moto_url, &format!("/_gate/calls?endpoint_id={endpoint}"))?;
        Ok(serde_json::from_str(&body)?)
    }
}

/// The first /24 (or the block itself when smaller) of an IPv4 CIDR.
fn first_subnet(cidr: &str) -> String {
    let (addr, len) = cidr.split_once('/').unwrap_or((cidr, "24"));
    let len: u8 = len.parse().unwrap_or(24);
    format!("{addr}/{}", len.max(24))
}

/// A plain HTTP GET on loopback, enough for the emulator's control routes.
/// Every page of an account's registry view (`None`) or a service's: what
/// a test compares whole.
pub async fn whole_view(
    store: &DynamoStore,
    account: Option<gate_core::AccountId>,
    service: Option<&gate_core::ServiceId>,
    history: bool,
) -> Result<Vec<gate_core::RegistryEntry>> {
    use gate_app::ports::{PageAsk, Registry};
    let mut entries = Vec::new();
    let mut page = PageAsk::default();
    loop {
        let got = match (account, service) {
            (Some(account), _) => store.by_account(account, history, &page).await?,
            (None, Some(service)) => store.by_service(service, history, &page).await?,
            (None, None) => return Err("whole_view: give an account or a service".into()),
        };
        entries.extend(got.entries);
        match got.next {
            Some(next) => page.after = Some(next),
            None => return Ok(entries),
        }
    }
}

pub fn http_get(base: &str, path: &str) -> Result<String> {
    http(base, "GET", path, "")
}

/// A plain HTTP POST of a JSON body on loopback.
pub fn http_post(base: &str, path: &str, body: &str) -> Result<String> {
    http(base, "POST", path, body)
}

fn http(base: &str, method: &str, path: &str, body: &str) -> Result<String> {
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let length = body.len();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{body}"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(format!("{method} {path}: {}", head.lines().next().unwrap_or_default()).into());
    }
    Ok(body.to_owned())
}

/// `X-Slack-Signature` for a body sent at `timestamp`, as Slack computes it.
pub fn slack_signature(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("v0={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The SNS envelope from the queue, wrapped as Lambda's SNS event.
pub fn lambda_sns_event(envelope: &serde_json::Value) -> serde_json::Value {
    let s = |k: &str| envelope[k].as_str().unwrap_or_default().to_owned();
    serde_json::json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{}:demo", s("TopicArn")),
        "Sns": {"Type": "Notification", "MessageId": s("MessageId"), "TopicArn": s("TopicArn"),
                "Subject": s("Subject"), "Message": s("Message"), "Timestamp": s("Timestamp"),
                "SignatureVersion": "1", "Signature": s("Signature"), "SigningCertUrl": s("SigningCertURL"),
                "UnsubscribeUrl": s("UnsubscribeURL"), "MessageAttributes": {}}
    }]})
}

/// The SNS connection notification (Connect) Lambda receives for an
/// endpoint, as an SNS event.
pub fn connect_event(service: &str, endpoint: &str, owner: &str) -> serde_json::Value {
    let message = serde_json::json!({"Event": "Connect", "ServiceId": service, "EndpointId": endpoint,
                                     "EndpointOwner": owner, "EndpointState": "pendingAcceptance"});
    serde_json::json!({"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:c:1",
        "Sns": {"Type": "Notification", "MessageId": endpoint, "TopicArn": "arn:aws:sns:us-east-1:123456789012:c",
                "Subject": "Endpoint Connection Notification", "Message": message.to_string(),
                "Timestamp": "2026-11-22T10:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
                "SigningCertUrl": "https://x", "UnsubscribeUrl": "https://x", "MessageAttributes": {}}
    }]})
}

/// An allow (or deny) entry for `account` on `scope` (`*` or a service id),
/// with declared CIDRs for when its VPC cannot be read.
pub fn allow_entry(
    scope: &str,
    account: &str,
    effect: gate_core::Effect,
    declared: &[&str],
) -> Result<gate_core::AllowEntry> {
    Ok(gate_core::AllowEntry {
        scope: scope.parse()?,
        principal: account.parse()?,
        effect,
        declared_cidrs: declared.iter().map(|c| c.parse()).collect::<std::result::Result<_, _>>()?,
        expires_at: None,
        owner: "e2e".into(),
        note: String::new(),
        added_by: "e2e".into(),
        added_at: None,
    })
}

/// The audit entry decide writes beside its claim of `record`.
pub fn decided_entry(
    record: &gate_core::RequestRecord,
    outcome: gate_core::Outcome,
    detail: &str,
) -> gate_app::ports::AuditEvent {
    gate_app::ports::AuditEvent {
        at: record.decided_at,
        kind: gate_app::ports::AuditKind::Decided,
        actor: record.actor.clone(),
        endpoint: Some(record.endpoint.clone()),
        service: Some(record.service.clone()),
        owner: Some(record.owner),
        outcome: Some(outcome),
        detail: detail.into(),
    }
}

/// A fault proxy (`localenv/fault_proxy.py`) in front of one local endpoint,
/// failing `rate` of the calls; stopped when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    child: std::process::Child,
    pub url: String,
}

impl FaultProxy {
    pub fn start(upstream: &str, rate: &str, seed: u32) -> Result<Self> {
        Self::start_with(upstream, rate, seed, None)
    }

    /// Only these kinds of fault (`throttle`, `error5xx`, `slow`, `drop`, `lost_reply`, `conflict`,
    /// and `hang`, which only a test that names it gets).
    pub fn start_with(upstream: &str, rate: &str, seed: u32, kinds: Option<&str>) -> Result<Self> {
        Self::spawn(upstream, rate, seed, kinds, false)
    }

    /// Faults of these kinds on DynamoDB writes only; every read passes.
    pub fn on_writes(upstream: &str, rate: &str, seed: u32, kinds: &str) -> Result<Self> {
        Self::spawn(upstream, rate, seed, Some(kinds), true)
    }

    fn spawn(upstream: &str, rate: &str, seed: u32, kinds: Option<&str>, writes_only: bool) -> Result<Self> {
        use std::io::BufRead;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/localenv/fault_proxy.py");
        let mut args = vec![script, "--upstream", upstream, "--rate", rate];
        let seed = seed.to_string();
        args.extend(["--seed", &seed]);
        if let Some(kinds) = kinds {
            args.extend(["--kinds", kinds]);
        }
        if writes_only {
            args.push("--writes-only");
        }
        let mut child =
            std::process::Command::new("python3").args(args).stdout(std::process::Stdio::piped()).spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("READY ")
            .ok_or_else(|| format!("fault proxy said {line:?}"))?
            .to_owned();
        Ok(Self { child, url })
    }

    pub fn counts(&self) -> Result<HashMap<String, u64>> {
        Ok(serde_json::from_str(&http_get(&self.url, "/_faults")?)?)
    }

    /// Changes the share of calls that fail: 0.0 ends the bad day.
    pub fn set_rate(&self, rate: f64) -> Result<()> {
        http_post(&self.url, "/_faults", &serde_json::json!({"rate": rate}).to_string())?;
        Ok(())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts an SDK client's requests by operation as they leave the client:
/// DynamoDB's calls, which the emulator's counter does not see.
#[derive(Debug, Default, Clone)]
pub struct CallCounter(std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>);

impl CallCounter {
    /// A DynamoDB store on `table` whose calls this counter counts.
    pub fn store(&self, local: &Local, table: &str) -> gate_aws::DynamoStore {
        let config = aws_sdk_dynamodb::config::Builder::from(&local.sdk).interceptor(self.clone()).build();
        gate_aws::DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table)
    }

    pub fn counts(&self) -> std::collections::BTreeMap<String, u64> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut c) = self.0.lock() {
            c.clear();
        }
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<
            '_,
        >,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> std::result::Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let name = cfg
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_default();
        *self.0.lock().map_err(|_| "counter poisoned")?.entry(name).or_default() += 1;
        Ok(())
    }
}
