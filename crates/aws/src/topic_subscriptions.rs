//! A topic's subscriptions as SNS lists them, each with its filter policy:
//! what both topics' watches compare with who should be subscribed.

use aws_sdk_sns::Client;
use gate_app::PortError;

use crate::error::port_error;

/// One subscription of a topic.
pub(crate) struct Listed {
    /// `None` while it waits for confirmation (SNS shows no ARN then).
    pub arn: Option<String>,
    pub protocol: String,
    pub endpoint: String,
    pub filter_policy: Option<String>,
    pub filter_scope: Option<String>,
}

/// Every subscription of `topic_arn`; the filter policy is read for each
/// confirmed one (`GetSubscriptionAttributes`).
pub(crate) async fn list(client: &Client, topic_arn: &str) -> Result<Vec<Listed>, PortError> {
    let mut out = Vec::new();
    let mut pages = client.list_subscriptions_by_topic().topic_arn(topic_arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error(format!("listing the subscriptions of {topic_arn}"), e))?;
        for s in page.subscriptions() {
            let arn = s.subscription_arn().filter(|a| a.starts_with("arn:")).map(str::to_owned);
            let (filter_policy, filter_scope) = match &arn {
                None => (None, None),
                Some(arn) => {
                    let attrs = client
                        .get_subscription_attributes()
                        .subscription_arn(arn)
                        .send()
                        .await
                        .map_err(|e| port_error(format!("reading the subscription {arn}"), e))?;
                    let attr = |name: &str| attrs.attributes().and_then(|a| a.get(name)).cloned();
                    (attr("FilterPolicy"), attr("FilterPolicyScope"))
                }
            };
            out.push(Listed {
                arn,
                protocol: s.protocol().unwrap_or_default().to_owned(),
                endpoint: s.endpoint().unwrap_or_default().to_owned(),
                filter_policy,
                filter_scope,
            });
        }
    }
    Ok(out)
}

/// Subscribes `email` with a filter on message attributes: it receives only
/// messages whose attributes the filter admits.
pub(crate) async fn subscribe_email(
    client: &Client,
    topic_arn: &str,
    email: &str,
    filter_policy: String,
) -> Result<(), PortError> {
    client
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("email")
        .endpoint(email)
        .attributes("FilterPolicy", filter_policy)
        .attributes("FilterPolicyScope", "MessageAttributes")
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| port_error(format!("subscribing {email} to {topic_arn}"), e))?;
    Ok(())
}

pub(crate) async fn unsubscribe(client: &Client, arn: &str) -> Result<(), PortError> {
    client
        .unsubscribe()
        .subscription_arn(arn)
        .send()
        .await
        .map_err(|e| port_error(format!("removing the subscription {arn}"), e))?;
    Ok(())
}
