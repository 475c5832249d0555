//! A service's allowed principals in EC2: who may create an endpoint to it.
//! `DescribeVpcEndpointServicePermissions` lists them page by page;
//! `ModifyVpcEndpointServicePermissions` adds and removes in one call
//! (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcEndpointServicePermissions.html).

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use gate_app::PortError;
use gate_app::ports::ServicePermissions;
use gate_core::ServiceId;

use crate::error::port_error;

/// Principals changed per call: large lists go in several calls, so no
/// request grows without bound.
const PER_CALL: usize = 100;

#[derive(Debug, Clone)]
pub struct Ec2ServicePermissions {
    client: Client,
}

impl Ec2ServicePermissions {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl ServicePermissions for Ec2ServicePermissions {
    async fn allowed(&self, service: &ServiceId) -> Result<Vec<String>, PortError> {
        let mut pages = self
            .client
            .describe_vpc_endpoint_service_permissions()
            .service_id(service.as_str())
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                port_error(format!("DescribeVpcEndpointServicePermissions of {service} failed"), e)
            })?;
            out.extend(page.allowed_principals().iter().filter_map(|p| p.principal()).map(str::to_owned));
        }
        Ok(out)
    }

    async fn change(&self, service: &ServiceId, add: &[String], remove: &[String]) -> Result<(), PortError> {
        let (mut add, mut remove) = (add.chunks(PER_CALL), remove.chunks(PER_CALL));
        loop {
            let (a, r) = (add.next(), remove.next());
            if a.is_none() && r.is_none() {
                return Ok(());
            }
            let out = self
                .client
                .modify_vpc_endpoint_service_permissions()
                .service_id(service.as_str())
                .set_add_allowed_principals(a.map(<[String]>::to_vec))
                .set_remove_allowed_principals(r.map(<[String]>::to_vec))
                .send()
                .await
                .map_err(|e| {
                    port_error(format!("ModifyVpcEndpointServicePermissions of {service} failed"), e)
                })?;
            if out.return_value() == Some(false) {
                return Err(PortError::plain(
                    format!("ModifyVpcEndpointServicePermissions of {service} returned false"),
                    false,
                ));
            }
        }
    }
}
