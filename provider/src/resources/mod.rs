//! The managed resources, one file each, and what they share: the cloud enum, the checks of values every
//! resource takes (CIDRs, names, regions), time budgets from `timeouts` blocks, and turning a client's
//! error into a diagnostic that says what failed and what to do.

pub mod cluster;
pub mod gateway;
pub mod log_export;
pub mod masquerade;
pub mod policy;
pub mod release;
pub mod route;
pub mod server;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clients::retry::Budget;
use crate::plugin::schema::TfType;
use crate::plugin::timeouts::{Operation, Timeouts};
use crate::plugin::types::Type;
use crate::plugin::{AttributePath, CallContext, Diagnostic, Diagnostics};

/// The clouds the product runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    Aws,
    Azure,
}

impl TfType for Cloud {
    fn tf_type() -> Type {
        Type::String
    }
}

impl Cloud {
    /// The controller's `cloud_type` (reference: AWS 1, Azure 8).
    pub fn cloud_type(self) -> u32 {
        match self {
            Cloud::Aws => 1,
            Cloud::Azure => 8,
        }
    }

    pub fn from_cloud_type(cloud_type: u64) -> Option<Cloud> {
        match cloud_type {
            1 => Some(Cloud::Aws),
            8 => Some(Cloud::Azure),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
        }
    }
}

/// An error diagnostic on `attr`.
pub fn invalid(attr: &str, summary: &str, detail: String) -> Diagnostic {
    Diagnostic::error(summary, detail).at(AttributePath::root().attr(attr))
}

/// The budget of one operation: the resource's `timeouts` value for it, else `default`, and Terraform's
/// cancellation.
pub fn budget(
    ctx: &CallContext,
    timeouts: Option<&Timeouts>,
    op: Operation,
    default: Duration,
) -> Result<Budget, Diagnostics> {
    let limit = Timeouts::get(timeouts, op, default)?;
    Ok(Budget::new(limit, ctx.cancel.clone()))
}

/// A client's failure as a diagnostic: what was being done, and the client's words (which say what to do).
pub fn failed(doing: &str, error: impl std::fmt::Display) -> Diagnostics {
    Diagnostic::error(format!("Failed to {doing}"), error.to_string()).into()
}

/// The account number (AWS) or subscription (Azure) of the controller's access account `account`; an
/// unknown account is an error on `account_name`.
pub async fn account_number(
    client: &crate::clients::controller::ControllerClient,
    account: &str,
    budget: &Budget,
) -> Result<String, Diagnostics> {
    let accounts =
        client.query("list_accounts", &[], budget).await.map_err(|e| failed("list the controller's accounts", e))?;
    accounts["account_list"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["account_name"] == account))
        .and_then(|a| a["account_number"].as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            invalid(
                "account_name",
                "Unknown account",
                format!("account_name = {account:?}: the controller has no access account of that name."),
            )
            .into()
        })
}

/// Checks an IPv4 CIDR given as a network address, such as `10.0.1.0/24`.
pub fn check_cidr(attr: &str, value: &str) -> Option<Diagnostic> {
    let summary = "Invalid CIDR";
    match value.parse::<ipnet::Ipv4Net>() {
        Err(_) => Some(invalid(
            attr,
            summary,
            format!("{attr} = {value:?} is not an IPv4 CIDR; use a network address and prefix length such as \"10.0.1.0/24\"."),
        )),
        Ok(net) if net.network() != net.addr() => Some(invalid(
            attr,
            summary,
            format!("{attr} = {value:?} has host bits set; the network it names is \"{}\".", net.trunc()),
        )),
        Ok(_) => None,
    }
}

/// Checks an AWS region name such as `us-east-1`.
pub fn check_aws_region(attr: &str, value: &str) -> Option<Diagnostic> {
    let parts: Vec<&str> = value.split('-').collect();
    let shaped = parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    (!shaped).then(|| {
        invalid(
            attr,
            "Invalid AWS region",
            format!("{attr} = {value:?} is not an AWS region name; use one such as \"us-east-1\"."),
        )
    })
}

/// Checks an Azure location name such as `eastus`, naming the location a display name means.
pub fn check_azure_location(attr: &str, value: &str) -> Option<Diagnostic> {
    use crate::clients::azure::{location_display_name, location_of_display_name};
    if location_display_name(value).is_some() && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return None;
    }
    let detail = match location_of_display_name(value) {
        Some(name) => format!("{attr} = {value:?} is a display name; use the location name \"{name}\"."),
        None => {
            format!("{attr} = {value:?} is not an Azure location name; use one such as \"eastus\" or \"westeurope\".")
        }
    };
    Some(invalid(attr, "Invalid Azure location", detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_regions_and_locations_are_checked_with_what_is_accepted() {
        assert!(check_cidr("subnet_cidr", "10.0.1.0/24").is_none());
        let host_bits = check_cidr("subnet_cidr", "10.0.1.7/24").unwrap();
        assert!(host_bits.detail.contains("\"10.0.1.0/24\""), "{}", host_bits.detail);
        assert_eq!(host_bits.path.unwrap().to_string(), "subnet_cidr");
        assert!(check_cidr("subnet_cidr", "subnet-1234").unwrap().detail.contains("is not an IPv4 CIDR"));

        assert!(check_aws_region("region", "us-east-1").is_none());
        assert!(check_aws_region("region", "us-gov-west-1").is_none());
        assert!(check_aws_region("region", "US East").is_some());
        assert!(check_aws_region("region", "eastus").is_some());

        assert!(check_azure_location("region", "eastus").is_none());
        let display = check_azure_location("region", "East US").unwrap();
        assert!(display.detail.ends_with("use the location name \"eastus\"."), "{}", display.detail);
        assert!(check_azure_location("region", "moon-base").unwrap().detail.contains("not an Azure location"));
    }
}
