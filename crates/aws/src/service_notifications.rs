//! What EC2 keeps for a service Endpoint Gate manages without a stack
//! update: its connection notifications
//! (`Create`/`Describe`/`DeleteVpcEndpointConnectionNotification(s)`) and the
//! tag that scopes the functions' Accept/Reject permission (`CreateTags`,
//! `DeleteTags`, `DescribeTags`).

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, Tag};
use gate_app::PortError;
use gate_app::services::{
    CONNECTION_EVENTS, ConnectionNotification, MANAGED_TAG_KEY, MANAGED_TAG_VALUE, ServiceNotifications,
};
use gate_core::ServiceId;

use crate::error::port_error;

#[derive(Debug, Clone)]
pub struct Ec2ServiceNotifications {
    client: Client,
}

impl Ec2ServiceNotifications {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

#[async_trait]
impl ServiceNotifications for Ec2ServiceNotifications {
    async fn notifications(&self, service: &ServiceId) -> Result<Vec<ConnectionNotification>, PortError> {
        let mut pages = self
            .client
            .describe_vpc_endpoint_connection_notifications()
            .filters(filter("service-id", service.as_str()))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                port_error(format!("DescribeVpcEndpointConnectionNotifications of {service} failed"), e)
            })?;
            for n in page.connection_notification_set() {
                // Checked here too: the filter is the service's, whatever EC2 returns.
                if n.service_id() != Some(service.as_str()) {
                    continue;
                }
                if let (Some(id), Some(topic)) =
                    (n.connection_notification_id(), n.connection_notification_arn())
                {
                    out.push(ConnectionNotification { id: id.to_owned(), topic: topic.to_owned() });
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, service: &ServiceId, topic: &str) -> Result<String, PortError> {
        let out = self
            .client
            .create_vpc_endpoint_connection_notification()
            .service_id(service.as_str())
            .connection_notification_arn(topic)
            .set_connection_events(Some(CONNECTION_EVENTS.iter().map(|e| (*e).to_owned()).collect()))
            .send()
            .await
            .map_err(|e| {
                port_error(format!("CreateVpcEndpointConnectionNotification of {service} failed"), e)
            })?;
        out.connection_notification()
            .and_then(|n| n.connection_notification_id())
            .map(str::to_owned)
            .ok_or_else(|| {
                PortError::plain(
                    format!("CreateVpcEndpointConnectionNotification of {service} returned no id"),
                    false,
                )
            })
    }

    async fn delete(&self, notification: &str) -> Result<(), PortError> {
        let out = self
            .client
            .delete_vpc_endpoint_connection_notifications()
            .connection_notification_ids(notification)
            .send()
            .await
            .map_err(|e| {
                port_error(format!("DeleteVpcEndpointConnectionNotifications {notification} failed"), e)
            })?;
        match out.unsuccessful().first() {
            None => Ok(()),
            Some(u) => Err(PortError::plain(
                format!(
                    "DeleteVpcEndpointConnectionNotifications {notification} refused: {}",
                    u.error().and_then(|e| e.message()).unwrap_or("no reason given")
                ),
                false,
            )),
        }
    }

    async fn tagged(&self, service: &ServiceId) -> Result<bool, PortError> {
        let out = self
            .client
            .describe_tags()
            .filters(filter("resource-id", service.as_str()))
            .filters(filter("key", MANAGED_TAG_KEY))
            .send()
            .await
            .map_err(|e| port_error(format!("DescribeTags of {service} failed"), e))?;
        Ok(out.tags().iter().any(|t| {
            t.resource_id() == Some(service.as_str())
                && t.key() == Some(MANAGED_TAG_KEY)
                && t.value() == Some(MANAGED_TAG_VALUE)
        }))
    }

    async fn set_tag(&self, service: &ServiceId, on: bool) -> Result<(), PortError> {
        let tag = Tag::builder().key(MANAGED_TAG_KEY).value(MANAGED_TAG_VALUE).build();
        let what = |verb: &str| format!("{verb} {MANAGED_TAG_KEY} on {service} failed");
        if on {
            self.client
                .create_tags()
                .resources(service.as_str())
                .tags(tag)
                .send()
                .await
                .map_err(|e| port_error(what("CreateTags"), e))?;
        } else {
            self.client
                .delete_tags()
                .resources(service.as_str())
                .tags(tag)
                .send()
                .await
                .map_err(|e| port_error(what("DeleteTags"), e))?;
        }
        Ok(())
    }
}
