//! Secrets read once per cold start from Secrets Manager, never logged.
//!
//! - Link-signing keys: `{"current": "…", "previous": "…"}`; `previous`
//!   keeps links signed before a rotation valid until they expire. The
//!   function that verifies links reads them again after a rotation
//!   ([`LinkKeyRing`]).
//! - Slack: `{"signing_secret": "…", "bot_token": "xoxb-…"}`.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use aws_sdk_secretsmanager::Client;
use gate_app::PortError;
use gate_core::Timestamp;

use crate::error::port_error;

/// Keys, newest first. Debug never shows them.
#[derive(Clone)]
pub struct LinkKeys {
    pub current: Vec<u8>,
    pub previous: Option<Vec<u8>>,
}

impl fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LinkKeys(current: [redacted], previous: {})",
            if self.previous.is_some() { "[redacted]" } else { "none" }
        )
    }
}

impl LinkKeys {
    pub fn all(&self) -> Vec<&[u8]> {
        std::iter::once(self.current.as_slice()).chain(self.previous.as_deref()).collect()
    }

    /// Parses the secret's JSON; the error names the field, never the value.
    pub fn from_secret(text: &str) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|_| "the secret is not JSON".to_owned())?;
        let key = |name: &str| -> Result<Option<Vec<u8>>, String> {
            match v.get(name) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if s.len() >= 32 => Ok(Some(s.as_bytes().to_vec())),
                Some(serde_json::Value::String(_)) => {
                    Err(format!("the secret's {name:?} key is shorter than 32 characters"))
                }
                Some(_) => Err(format!("the secret's {name:?} key is not a string")),
            }
        };
        let current = key("current")?.ok_or_else(|| "the secret has no \"current\" key".to_owned())?;
        Ok(Self { current, previous: key("previous")? })
    }

    pub async fn load(client: &Client, secret_id: &str) -> Result<Self, PortError> {
        load(client, secret_id, Self::from_secret).await
    }
}

/// The link keys a warm function verifies with. When a link fails to verify
/// and the secret was read over [`LinkKeyRing::REFRESH_SECS`] ago, it is read
/// again: after a rotation, links signed with the new key work without
/// restarting the function, and forged links cost at most one read a
/// minute. Verifying never waits for a read; a failed read keeps the keys
/// held, so nothing is accepted for it.
pub struct LinkKeyRing {
    held: RwLock<Arc<LinkKeys>>,
    source: Option<KeySource>,
}

struct KeySource {
    client: Client,
    secret_id: String,
    /// When the secret was last read; locked during a read, so one at a time.
    read_at: tokio::sync::Mutex<Timestamp>,
}

impl fmt::Debug for LinkKeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self.source.as_ref().map_or("fixed", |s| s.secret_id.as_str());
        write!(f, "LinkKeyRing({from})")
    }
}

impl LinkKeyRing {
    /// The least time between two reads of the secret.
    pub const REFRESH_SECS: i64 = 60;

    /// Keys read from the secret now, and again when needed.
    pub async fn load(client: Client, secret_id: &str, now: Timestamp) -> Result<Self, PortError> {
        let keys = LinkKeys::load(&client, secret_id).await?;
        let source =
            KeySource { client, secret_id: secret_id.to_owned(), read_at: tokio::sync::Mutex::new(now) };
        Ok(Self { held: RwLock::new(Arc::new(keys)), source: Some(source) })
    }

    /// Keys that never change: for tests, behind `test-util`, so the
    /// functions can only hold keys read from the secret.
    #[cfg(feature = "test-util")]
    pub fn fixed(keys: LinkKeys) -> Self {
        Self { held: RwLock::new(Arc::new(keys)), source: None }
    }

    pub fn keys(&self) -> Arc<LinkKeys> {
        self.held.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads the secret again if the last read is old enough; true when new
    /// keys are held. Concurrent callers wait for one read.
    pub async fn refresh(&self, now: Timestamp) -> bool {
        let Some(source) = &self.source else { return false };
        let mut read_at = source.read_at.lock().await;
        if now.unix() - read_at.unix() < Self::REFRESH_SECS {
            return false;
        }
        *read_at = now;
        match LinkKeys::load(&source.client, &source.secret_id).await {
            Ok(keys) => {
                *self.held.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                tracing::info!("link keys read again");
                true
            }
            Err(e) => {
                tracing::error!(error = %e.chain(), "reading the link keys again failed; keeping those held");
                false
            }
        }
    }
}

/// The Slack app's credentials. Debug never shows them.
#[derive(Clone)]
pub struct SlackSecrets {
    /// Verifies that interactivity requests come from Slack.
    pub signing_secret: Vec<u8>,
    /// Posts review messages (`chat:write`).
    pub bot_token: String,
}

impl fmt::Debug for SlackSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlackSecrets(signing_secret: [redacted], bot_token: [redacted])")
    }
}

impl SlackSecrets {
    /// Parses the secret's JSON; the error names the field, never the value.
    pub fn from_secret(text: &str) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|_| "the secret is not JSON".to_owned())?;
        let field = |name: &str| -> Result<String, String> {
            match v.get(name) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
                    Err(format!("the secret has no {name:?}"))
                }
                Some(_) => Err(format!("the secret's {name:?} is not a string")),
            }
        };
        let signing_secret = field("signing_secret")?.into_bytes();
        let bot_token = field("bot_token")?;
        if !bot_token.starts_with("xoxb-") {
            return Err("the secret's \"bot_token\" is not a bot token (xoxb-…)".to_owned());
        }
        Ok(Self { signing_secret, bot_token })
    }

    pub async fn load(client: &Client, secret_id: &str) -> Result<Self, PortError> {
        load(client, secret_id, Self::from_secret).await
    }
}

async fn load<T>(
    client: &Client,
    secret_id: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, PortError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| port_error(format!("reading secret {secret_id} failed"), e))?;
    parse(out.secret_string().unwrap_or_default())
        .map_err(|why| PortError::plain(format!("secret {secret_id}: {why}"), false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_never_show() {
        let k = LinkKeys::from_secret(r#"{"current": "0123456789abcdef0123456789abcdef", "previous": null}"#)
            .expect("valid");
        assert_eq!(k.all().len(), 1);
        assert!(!format!("{k:?}").contains("0123"));
        for (bad, why) in [
            ("nope", "not JSON"),
            ("{}", "no \"current\""),
            (r#"{"current": "short"}"#, "shorter than 32"),
            (r#"{"current": 5}"#, "not a string"),
        ] {
            let err = LinkKeys::from_secret(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains("short\""), "{err}");
        }
    }

    #[test]
    fn slack_secrets_parse_and_never_show() {
        let s = SlackSecrets::from_secret(r#"{"signing_secret": "s3cr3t", "bot_token": "xoxb-1-2-abc"}"#)
            .expect("valid");
        assert_eq!(s.bot_token, "xoxb-1-2-abc");
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("xoxb"), "{shown}");
        for (bad, why) in [
            ("[]", "no \"signing_secret\""),
            (r#"{"signing_secret": "s3cr3t"}"#, "no \"bot_token\""),
            (r#"{"signing_secret": " ", "bot_token": "xoxb-1"}"#, "no \"signing_secret\""),
            (r#"{"signing_secret": "s3cr3t", "bot_token": "xoxp-user-token"}"#, "not a bot token"),
            (r#"{"signing_secret": 7, "bot_token": "xoxb-1"}"#, "not a string"),
        ] {
            let err = SlackSecrets::from_secret(bad).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains("s3cr3t") && !err.contains("xoxp-user"), "{err}");
        }
    }
}
