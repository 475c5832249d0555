//! Configuration from the environment, checked all at once so a deploy
//! with three mistakes reports three mistakes.

use std::fmt;
use std::str::FromStr;

pub use gate_aws::wiring::{ConsumerRole, LinkConfig, SlackConfig};
use gate_core::ServiceId;

/// Every problem found in the environment, one per line.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration is invalid:")?;
        for p in &self.0 {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Reads variables through `lookup`, collecting problems instead of
/// stopping at the first.
#[derive(Debug)]
pub struct Env<F> {
    lookup: F,
    problems: Vec<String>,
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Self { lookup, problems: Vec::new() }
    }

    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn required(&mut self, name: &str) -> String {
        self.get(name).unwrap_or_else(|| {
            self.problems.push(format!("{name} is required"));
            String::new()
        })
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        self.get(name)
    }

    pub fn parsed<T: FromStr>(&mut self, name: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|e| {
                self.problems.push(format!("{name}={v:?} is invalid: {e}"));
                default
            }),
        }
    }

    /// A comma-separated list of endpoint service ids; empty when unset.
    pub fn services(&mut self, name: &str) -> Vec<ServiceId> {
        let Some(v) = self.get(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse() {
                Ok(s) => out.push(s),
                Err(e) => self.problems.push(format!("{name}: {e}")),
            }
        }
        out
    }

    /// A URL that must be https, or plain http on loopback for local runs.
    pub fn url(&mut self, name: &str, default: &str) -> String {
        let url = self.get(name).unwrap_or_else(|| default.to_owned());
        if !gate_aws::is_https_or_loopback(&url) {
            self.problems.push(format!("{name}={url:?} must be an https URL"));
        }
        url
    }

    /// The consumer topic of decision notices, when `CONSUMER_TOPIC_ARN`
    /// is set; without it, notices are off.
    pub fn consumer_topic(&mut self) -> Option<String> {
        let arn = self.optional("CONSUMER_TOPIC_ARN")?;
        if !arn.starts_with("arn:") || !arn.contains(":sns:") {
            self.problems.push(format!("CONSUMER_TOPIC_ARN={arn:?} is not an SNS topic ARN"));
        }
        Some(arn)
    }

    /// The read-only Organizations role, for OU and organization entries.
    pub fn organizations_role(&mut self) -> Option<String> {
        let arn = self.optional("ORGANIZATIONS_ROLE_ARN")?;
        if !(arn.starts_with("arn:") && arn.contains(":role/")) {
            self.problems.push(format!("ORGANIZATIONS_ROLE_ARN={arn:?} is not an IAM role ARN"));
        }
        Some(arn)
    }

    /// Slack, when `SLACK_SECRET_ARN` is set.
    pub fn slack(&mut self) -> Option<SlackConfig> {
        let secret_arn = self.optional("SLACK_SECRET_ARN")?;
        Some(SlackConfig { secret_arn, api_url: self.url("SLACK_API_URL", gate_aws::SLACK_API) })
    }

    pub fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() { Ok(()) } else { Err(ConfigError(self.problems)) }
    }
}

/// The decide function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideConfig {
    pub table_name: String,
    pub review_topic_arn: String,
    pub consumer_role: ConsumerRole,
    pub service_ids: Vec<ServiceId>,
    pub concurrency: usize,
    pub lease_secs: i64,
    /// Approval links in the review email, when the respond function is deployed.
    pub links: Option<LinkConfig>,
    /// Review messages in Slack, when the Slack app is set up.
    pub slack: Option<SlackConfig>,
    /// Decision notices to consumers' contacts, when the topic is set.
    pub consumer_topic_arn: Option<String>,
    /// The read-only role in the management (or a delegated administrator)
    /// account through which OU paths are read; `None` turns OU and
    /// organization entries off.
    pub organizations_role_arn: Option<String>,
}

impl DecideConfig {
    /// The variables this function reads; the deploy test checks the
    /// template sets each required one.
    pub const REQUIRED: &'static [&'static str] = &["TABLE_NAME", "REVIEW_TOPIC_ARN"];
    pub const OPTIONAL: &'static [&'static str] = &[
        "SERVICE_IDS",
        "CONSUMER_ROLE_TEMPLATE",
        "CONSUMER_ROLE_EXTERNAL_ID",
        "CONCURRENCY",
        "ACTION_LEASE_SECS",
        "RESPOND_URL",
        "LINK_KEYS_SECRET_ARN",
        "LINK_TTL_SECS",
        "SLACK_SECRET_ARN",
        "SLACK_API_URL",
        "CONSUMER_TOPIC_ARN",
        "ORGANIZATIONS_ROLE_ARN",
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table_name = env.required("TABLE_NAME");
        let consumer_topic_arn = env.consumer_topic();
        let review_topic_arn = env.required("REVIEW_TOPIC_ARN");
        let organizations_role_arn = env.organizations_role();
        if !review_topic_arn.is_empty() && !review_topic_arn.starts_with("arn:") {
            env.problem(format!("REVIEW_TOPIC_ARN={review_topic_arn:?} is not an ARN"));
        }
        let consumer_role_template = env
            .optional("CONSUMER_ROLE_TEMPLATE")
            .unwrap_or_else(|| "arn:aws:iam::{account}:role/EndpointGateCidrReader".to_owned());
        if !consumer_role_template.contains("{account}") {
            env.problem(format!(
                "CONSUMER_ROLE_TEMPLATE={consumer_role_template:?} must contain {{account}}"
            ));
        }
        let consumer_role_external_id = env.optional("CONSUMER_ROLE_EXTERNAL_ID");
        let service_ids = env.services("SERVICE_IDS");
        let concurrency: usize = env.parsed("CONCURRENCY", 16);
        if concurrency == 0 || concurrency > 256 {
            env.problem(format!("CONCURRENCY={concurrency} must be 1..=256"));
        }
        let lease_secs = env.parsed("ACTION_LEASE_SECS", 60);
        let links = match (env.optional("RESPOND_URL"), env.optional("LINK_KEYS_SECRET_ARN")) {
            (None, None) => None,
            (Some(_), Some(keys_secret_arn)) => Some(LinkConfig {
                respond_url: env.url("RESPOND_URL", ""),
                keys_secret_arn,
                ttl_secs: env.parsed("LINK_TTL_SECS", 3 * 86_400),
            }),
            (Some(_), None) => {
                env.problem("RESPOND_URL is set but LINK_KEYS_SECRET_ARN is not".into());
                None
            }
            (None, Some(_)) => {
                env.problem("LINK_KEYS_SECRET_ARN is set but RESPOND_URL is not".into());
                None
            }
        };
        let slack = env.slack();
        env.finish()?;
        Ok(Self {
            slack,
            consumer_topic_arn,
            organizations_role_arn,
            table_name,
            review_topic_arn,
            consumer_role: ConsumerRole {
                template: consumer_role_template,
                external_id: consumer_role_external_id,
            },
            service_ids,
            concurrency,
            lease_secs,
            links,
        })
    }
}

/// The respond function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondConfig {
    pub table_name: String,
    pub keys_secret_arn: String,
    /// The Slack route, when the Slack app is set up.
    pub slack: Option<RespondSlack>,
    /// Decision notices to consumers' contacts, when the topic is set.
    pub consumer_topic_arn: Option<String>,
    /// With it, approvals meet the OU and organization denies on the
    /// account's path too.
    pub organizations_role_arn: Option<String>,
}

/// The Slack app, and where its replies may go: every `response_url` a
/// button press carries must start with `hooks_url` (Slack's own unless a
/// local run points it at the recording server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespondSlack {
    pub app: SlackConfig,
    pub hooks_url: String,
}

impl RespondConfig {
    pub const REQUIRED: &'static [&'static str] = &["TABLE_NAME", "LINK_KEYS_SECRET_ARN"];
    pub const OPTIONAL: &'static [&'static str] = &[
        "SLACK_SECRET_ARN",
        "SLACK_API_URL",
        "SLACK_HOOKS_URL",
        "CONSUMER_TOPIC_ARN",
        "ORGANIZATIONS_ROLE_ARN",
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table_name = env.required("TABLE_NAME");
        let keys_secret_arn = env.required("LINK_KEYS_SECRET_ARN");
        let slack = env.slack().map(|app| RespondSlack {
            app,
            hooks_url: env.url("SLACK_HOOKS_URL", gate_core::slack::SLACK_HOOKS),
        });
        let consumer_topic_arn = env.consumer_topic();
        let organizations_role_arn = env.organizations_role();
        env.finish()?;
        Ok(Self { table_name, keys_secret_arn, slack, consumer_topic_arn, organizations_role_arn })
    }
}

/// The record function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordConfig {
    pub table_name: String,
    pub service_ids: Vec<ServiceId>,
}

impl RecordConfig {
    pub const REQUIRED: &'static [&'static str] = &["TABLE_NAME"];
    pub const OPTIONAL: &'static [&'static str] = &["SERVICE_IDS"];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table_name = env.required("TABLE_NAME");
        let service_ids = env.services("SERVICE_IDS");
        env.finish()?;
        Ok(Self { table_name, service_ids })
    }
}

/// The lookup function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupConfig {
    pub table_name: String,
    pub service_ids: Vec<ServiceId>,
    /// IAM roles or users who see every account (role sessions included).
    pub operator_arns: Vec<String>,
    /// The read-only Organizations role: the catalogue then says what OU
    /// and organization entries give the caller's account.
    pub organizations_role_arn: Option<String>,
}

impl LookupConfig {
    pub const REQUIRED: &'static [&'static str] = &["TABLE_NAME"];
    pub const OPTIONAL: &'static [&'static str] = &["SERVICE_IDS", "OPERATOR_ARNS", "ORGANIZATIONS_ROLE_ARN"];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table_name = env.required("TABLE_NAME");
        let service_ids = env.services("SERVICE_IDS");
        let operator_arns: Vec<String> = env
            .optional("OPERATOR_ARNS")
            .map(|v| v.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        for arn in &operator_arns {
            if !arn.starts_with("arn:") || !(arn.contains(":role/") || arn.contains(":user/")) {
                env.problem(format!("OPERATOR_ARNS: {arn:?} is not an IAM role or user ARN"));
            }
        }
        let organizations_role_arn = env.organizations_role();
        env.finish()?;
        Ok(Self { table_name, service_ids, operator_arns, organizations_role_arn })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<DecideConfig, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        DecideConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn minimal_environment_gets_sane_defaults() {
        let c = config(&[
            ("TABLE_NAME", "gate"),
            ("REVIEW_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:review"),
        ])
        .expect("valid");
        assert_eq!(c.concurrency, 16);
        assert!(c.consumer_role.template.contains("{account}"));
        assert!(c.service_ids.is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = config(&[
            ("REVIEW_TOPIC_ARN", "review"),
            ("SERVICE_IDS", "vpce-svc-0abc1234, nope"),
            ("CONCURRENCY", "lots"),
            ("CONSUMER_ROLE_TEMPLATE", "arn:aws:iam::1:role/x"),
            ("ORGANIZATIONS_ROLE_ARN", "o-abcdef1234"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        for needle in [
            "TABLE_NAME is required",
            "not an ARN",
            "\"nope\"",
            "CONCURRENCY=\"lots\"",
            "{account}",
            "ORGANIZATIONS_ROLE_ARN=\"o-abcdef1234\" is not an IAM role ARN",
        ] {
            assert!(text.contains(needle), "missing {needle} in {text}");
        }
        assert_eq!(err.0.len(), 6, "{text}");
    }

    #[test]
    fn notices_are_off_until_the_consumer_topic_is_named_and_it_must_be_a_topic() {
        let base =
            [("TABLE_NAME", "gate"), ("REVIEW_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:review")];
        assert_eq!(config(&base).expect("valid").consumer_topic_arn, None);
        let arn = "arn:aws:sns:us-east-1:111122223333:consumers";
        let on = config(&[base[0], base[1], ("CONSUMER_TOPIC_ARN", arn)]).expect("valid");
        assert_eq!(on.consumer_topic_arn.as_deref(), Some(arn));
        let err = config(&[base[0], base[1], ("CONSUMER_TOPIC_ARN", "team-b@example.com")]).expect_err("bad");
        assert!(err.to_string().contains("CONSUMER_TOPIC_ARN=\"team-b@example.com\""), "{err}");
    }

    #[test]
    fn slack_is_off_until_its_secret_is_named_and_urls_must_be_https() {
        let base =
            [("TABLE_NAME", "gate"), ("REVIEW_TOPIC_ARN", "arn:aws:sns:us-east-1:111122223333:review")];
        assert_eq!(config(&base).expect("valid").slack, None);
        let arn = ("SLACK_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:111122223333:secret:slack");
        let on = config(&[base[0], base[1], arn]).expect("valid").slack.expect("slack on");
        assert_eq!(on.api_url, gate_aws::SLACK_API);
        let err = config(&[base[0], base[1], arn, ("SLACK_API_URL", "http://slack.example/api")])
            .expect_err("plain http");
        assert!(err.to_string().contains("SLACK_API_URL"), "{err}");
        // Only respond takes replies to Slack; decide never reads where they go.
        assert!(config(&[base[0], base[1], arn, ("SLACK_HOOKS_URL", "http://evil.example/")]).is_ok());
        let respond = |vars: &[(&str, &str)]| {
            let vars: HashMap<String, String> =
                vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            RespondConfig::from_lookup(|k| vars.get(k).cloned())
        };
        let keys = ("LINK_KEYS_SECRET_ARN", "endpoint-gate-link-keys");
        let on = respond(&[base[0], keys, arn]).expect("valid").slack.expect("slack on");
        assert_eq!(on.hooks_url, gate_core::slack::SLACK_HOOKS);
        let err = respond(&[base[0], keys, arn, ("SLACK_HOOKS_URL", "http://evil.example/")])
            .expect_err("plain http elsewhere");
        assert!(err.to_string().contains("SLACK_HOOKS_URL"), "{err}");
    }
}
