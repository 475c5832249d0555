//! Configuration from the environment, checked all at once so a deploy
//! with three mistakes reports three mistakes.

use std::fmt;
use std::str::FromStr;

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
    pub consumer_role_template: String,
    pub consumer_role_external_id: Option<String>,
    pub service_ids: Vec<ServiceId>,
    pub concurrency: usize,
    pub lease_secs: i64,
    /// Approval links in the review email, when the respond function is deployed.
    pub links: Option<LinkConfig>,
}

/// Where approval links point and where their signing keys live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkConfig {
    pub respond_url: String,
    pub keys_secret_arn: String,
    pub ttl_secs: i64,
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
    ];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table_name = env.required("TABLE_NAME");
        let review_topic_arn = env.required("REVIEW_TOPIC_ARN");
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
            (Some(respond_url), Some(keys_secret_arn)) => {
                if !respond_url.starts_with("https://") && !respond_url.starts_with("http://127.0.0.1") {
                    env.problem(format!("RESPOND_URL={respond_url:?} must be an https URL"));
                }
                Some(LinkConfig {
                    respond_url,
                    keys_secret_arn,
                    ttl_secs: env.parsed("LINK_TTL_SECS", 3 * 86_400),
                })
            }
            (Some(_), None) => {
                env.problem("RESPOND_URL is set but LINK_KEYS_SECRET_ARN is not".into());
                None
            }
            (None, Some(_)) => {
                env.problem("LINK_KEYS_SECRET_ARN is set but RESPOND_URL is not".into());
                None
            }
        };
        env.finish()?;
        Ok(Self {
            table_name,
            review_topic_arn,
            consumer_role_template,
            consumer_role_external_id,
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
}

impl RespondConfig {
    pub const REQUIRED: &'static [&'static str] = &["TABLE_NAME", "LINK_KEYS_SECRET_ARN"];
    pub const OPTIONAL: &'static [&'static str] = &[];

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut env = Env::new(lookup);
        let table_name = env.required("TABLE_NAME");
        let keys_secret_arn = env.required("LINK_KEYS_SECRET_ARN");
        env.finish()?;
        Ok(Self { table_name, keys_secret_arn })
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
        assert!(c.consumer_role_template.contains("{account}"));
        assert!(c.service_ids.is_empty());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = config(&[
            ("REVIEW_TOPIC_ARN", "review"),
            ("SERVICE_IDS", "vpce-svc-0abc1234, nope"),
            ("CONCURRENCY", "lots"),
            ("CONSUMER_ROLE_TEMPLATE", "arn:aws:iam::1:role/x"),
        ])
        .expect_err("invalid");
        let text = err.to_string();
        for needle in
            ["TABLE_NAME is required", "not an ARN", "\"nope\"", "CONCURRENCY=\"lots\"", "{account}"]
        {
            assert!(text.contains(needle), "missing {needle} in {text}");
        }
        assert_eq!(err.0.len(), 5, "{text}");
    }
}
