//! The command line's grammar, apart from what it does, so that tests can
//! check that every command the README shows is one the binary accepts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use gate_core::{AccountId, Cidr, EndpointId, Region, ServiceId};

#[derive(Parser, Debug)]
#[command(
    name = "endpoint-gate",
    version,
    about = "Endpoint Gate: PrivateLink connection requests decided by policy",
    long_about = "Keep the allowlist and policies of Endpoint Gate as reviewed code, explain what \
                  would happen to a consumer, and answer reviews from a terminal.\n\n\
                  AWS access uses the standard configuration: AWS_PROFILE, AWS_REGION, \
                  AWS_ENDPOINT_URL and friends, or --profile and --region."
)]
pub struct Cli {
    /// The Endpoint Gate DynamoDB table.
    #[arg(long, global = true, env = "GATE_TABLE", default_value = "endpoint-gate")]
    pub table: String,
    /// AWS profile (default: the standard chain).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (default: the standard chain).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The read-only AWS Organizations role (in the management or a delegated
    /// administrator account), as the decide function has it: explain reads
    /// OU paths through it and plan counts the accounts under each OU entry.
    /// Without it, OU and organization entries do not apply.
    #[arg(long, global = true, env = "ORGANIZATIONS_ROLE_ARN")]
    pub organizations_role_arn: Option<String>,
    /// Output for people (table) or scripts (json).
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check a policy file without touching AWS.
    Validate { file: PathBuf },
    /// Show what apply would change in the live tables.
    Plan {
        file: PathBuf,
        /// Also remove live items the file no longer has.
        #[arg(long)]
        prune: bool,
        /// Save the plan, to apply exactly it later with `apply --plan`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Exit 3 when there are changes.
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        topic: TopicArgs,
    },
    /// Apply the policy file (or a saved plan) with conditional writes.
    Apply {
        /// The policy file; omit with --plan.
        file: Option<PathBuf>,
        #[arg(long)]
        prune: bool,
        /// A plan saved by `plan --out`: applied only where nothing changed since.
        #[arg(long, conflicts_with = "file")]
        plan: Option<PathBuf>,
        #[command(flatten)]
        topic: TopicArgs,
    },
    /// What would happen if this consumer connected now, and why.
    Explain {
        #[arg(long)]
        service: ServiceId,
        #[arg(long)]
        account: AccountId,
        /// The consumer VPC's CIDRs (repeat); without it, declared CIDRs or the unknown-CIDR rule apply.
        #[arg(long = "cidr")]
        cidrs: Vec<Cidr>,
        /// The region of the consumer's VPC (cross-region PrivateLink); default
        /// the provider's, as for a connection EC2 names no region for.
        /// (`--region` is the provider's own, for every command.)
        #[arg(long)]
        consumer_region: Option<Region>,
    },
    /// Connections awaiting acceptance, with what Endpoint Gate decided.
    Pending {
        #[arg(long)]
        service: Vec<ServiceId>,
    },
    /// Approve a request in review: the connection is accepted.
    Approve {
        endpoint: EndpointId,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        slack: SlackArgs,
    },
    /// Reject a request in review: the connection is rejected.
    Reject {
        endpoint: EndpointId,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        slack: SlackArgs,
    },
    /// The audit trail of an endpoint's request.
    Audit { endpoint: EndpointId },
    /// What shadow-mode services would have done, beside what people did,
    /// disagreements first: the evidence for switching a service to enforce.
    Report {
        /// Verdicts kept in this period: 30m, 12h, 7d (up to 366d).
        #[arg(long, default_value = "7d", value_parser = crate::report::parse_since)]
        since: i64,
        /// Only these services (default: every shadow-mode service).
        #[arg(long)]
        service: Vec<ServiceId>,
    },
    /// Endpoints in the registry, with their DNS names.
    Endpoints {
        /// A consumer account's endpoints (through --lookup-url: your own by default).
        #[arg(long, required_unless_present_any = ["service", "lookup_url"])]
        account: Option<AccountId>,
        /// An endpoint service's endpoints.
        #[arg(long)]
        service: Option<ServiceId>,
        /// Include deleted and rejected endpoints.
        #[arg(long)]
        history: bool,
        #[command(flatten)]
        remote: LookupArgs,
    },
    /// One endpoint: its registry entry, its request's status and history.
    Endpoint {
        endpoint: EndpointId,
        #[command(flatten)]
        remote: LookupArgs,
    },
    /// The published endpoint services, the names consumers connect to, and
    /// what a request from your account (or --account's) would meet.
    Services {
        #[arg(long)]
        service: Vec<ServiceId>,
        /// The consumer account to answer for (operators; consumers see their own).
        #[arg(long)]
        account: Option<AccountId>,
        #[command(flatten)]
        remote: LookupArgs,
    },
    /// Open the lookup page in a browser: your endpoints and DNS names, your
    /// requests and why they wait, and the services you can connect to. The
    /// link is signed with your AWS credentials and works for --expires.
    Open {
        /// One endpoint's page instead of the overview.
        #[arg(long)]
        endpoint: Option<EndpointId>,
        /// The overview's next page: the position the last page named.
        #[arg(long, conflicts_with = "endpoint")]
        after: Option<gate_core::ViewPosition>,
        /// How long the link works: 1m to 1h.
        #[arg(long, default_value = "15m", value_parser = crate::consumer::parse_lifetime)]
        expires: std::time::Duration,
        /// Print the link instead of starting a browser.
        #[arg(long)]
        print: bool,
        #[command(flatten)]
        remote: LookupArgs,
    },
    /// Record every connection of the services in the registry: for
    /// deployments that accepted endpoints before Endpoint Gate. Safe to rerun.
    Backfill {
        /// Only these services (default: every service of the account).
        #[arg(long)]
        service: Vec<ServiceId>,
    },
    /// Shell completions.
    Completions { shell: clap_complete::Shell },
}

/// Where an answer from the terminal shows: in Slack, and to the
/// requesting account's contact.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct SlackArgs {
    /// The Slack app's secret (Secrets Manager ARN, as the stack's
    /// `SlackSecretArn`): the review's Slack message then shows this answer
    /// and loses its buttons, as with answers from email.
    #[arg(long, env = "GATE_SLACK_SECRET_ARN")]
    pub slack_secret_arn: Option<String>,
    /// Slack's Web API; https only, or a local stand-in on 127.0.0.1.
    #[arg(long, env = "GATE_SLACK_API_URL", default_value = "https://slack.com/api", hide = true)]
    pub slack_api_url: String,
    /// The consumer topic (the stack's `ConsumerTopicArn`): the requesting
    /// account's contact is told who answered and why, as with answers
    /// from email and Slack.
    #[arg(long, env = "GATE_CONSUMER_TOPIC_ARN")]
    pub consumer_topic_arn: Option<String>,
}

/// The approvers' review topic, whose subscriptions follow the policies.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct TopicArgs {
    /// The review topic (the stack's `ReviewTopicArn`): plan shows the
    /// approver subscriptions to add and any subscription no policy names;
    /// apply subscribes each email approver with a filter on its own
    /// address (and with --prune removes the unknown ones).
    #[arg(long, env = "GATE_REVIEW_TOPIC_ARN")]
    pub review_topic_arn: Option<String>,
    /// The consumer topic (the stack's `ConsumerTopicArn`): apply subscribes
    /// each contact's email with a filter on the accounts it is the
    /// contact of, sets right a contact's subscription that filters on
    /// anything else, and with --prune removes those no contact names.
    #[arg(long, env = "GATE_CONSUMER_TOPIC_ARN")]
    pub consumer_topic_arn: Option<String>,
    /// The connection topic (the stack's `ConnectionTopicArn`): apply gives
    /// each service under `services:` a connection notification to it (and
    /// with --prune removes those of services the file no longer lists).
    #[arg(long, env = "GATE_CONNECTION_TOPIC_ARN")]
    pub connection_topic_arn: Option<String>,
}

/// Where a consumer asks: the lookup function instead of the table.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct LookupArgs {
    /// The lookup function's URL (the stack's `LookupUrl`). Requests are
    /// signed with your own AWS credentials; you see your account's
    /// endpoints, operators see all. Without it, the table is read directly.
    #[arg(long, env = "GATE_LOOKUP_URL")]
    pub lookup_url: Option<String>,
}
