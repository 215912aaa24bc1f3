//! Gateway sizes the controller accepts per cloud: an EC2 instance type for AWS, an Azure VM size for Azure
//! (docs/controller-api.md, "Gateway sizes"). A size the cloud does not offer is refused before anything is
//! launched, at create (`create_multicloud_primary_gateway`) and at resize (`edit_gw_config`).
//!
//! Owns the tables only; it must not grow into a catalogue of every size: the families here are the general
//! purpose, burstable and compute ones a gateway is run on, with the sizes each family really has.

use super::{CLOUD_AWS, CLOUD_AZURE};

/// EC2 families and the sizes each offers (the EC2 instance types pages: `t3` stops at `2xlarge`, `c5n` has
/// no `12xlarge`, and so on).
const AWS_FAMILIES: &[(&[&str], &[&str])] = &[
    (&["t2", "t3", "t3a"], &["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"]),
    (&["c5"], &["large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "12xlarge", "18xlarge", "24xlarge"]),
    (&["c5n"], &["large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge"]),
    (
        &["c6i", "c6in", "m6i"],
        &["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge"],
    ),
    (&["m5", "m5n", "r5"], &["large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"]),
];

/// Azure VM sizes of the B, D and F series (the Azure VM sizes pages).
const AZURE_SIZES: &[&str] = &[
    "Standard_B1s",
    "Standard_B1ms",
    "Standard_B2s",
    "Standard_B2ms",
    "Standard_B4ms",
    "Standard_B8ms",
    "Standard_D2_v3",
    "Standard_D4_v3",
    "Standard_D8_v3",
    "Standard_D16_v3",
    "Standard_D2s_v3",
    "Standard_D4s_v3",
    "Standard_D8s_v3",
    "Standard_D16s_v3",
    "Standard_D3_v2",
    "Standard_D4_v2",
    "Standard_D5_v2",
    "Standard_DS3_v2",
    "Standard_F2s_v2",
    "Standard_F4s_v2",
    "Standard_F8s_v2",
    "Standard_F16s_v2",
    "Standard_F32s_v2",
];

fn aws_offers(size: &str) -> bool {
    let Some((family, class)) = size.split_once('.') else { return false };
    AWS_FAMILIES.iter().any(|(families, sizes)| families.contains(&family) && sizes.contains(&class))
}

/// Whether `size` is a gateway size of `cloud_type`; the error is the controller's `reason`.
pub fn check(cloud_type: u32, size: &str) -> Result<(), String> {
    let (valid, cloud, example) = match cloud_type {
        CLOUD_AWS => (aws_offers(size), "AWS", "t3.medium"),
        CLOUD_AZURE => (AZURE_SIZES.contains(&size), "Azure", "Standard_B2ms"),
        _ => return Ok(()),
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "Gateway size {size} is not a valid instance size for {cloud} (cloud_type {cloud_type}); use an instance size of that cloud, such as {example}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_takes_its_own_sizes_and_only_the_sizes_a_family_has() {
        let cases = [
            (CLOUD_AWS, "t3.medium", true),
            (CLOUD_AWS, "t3.small", true),
            (CLOUD_AWS, "c5n.18xlarge", true),
            (CLOUD_AWS, "t3.24xlarge", false),
            (CLOUD_AWS, "c5n.12xlarge", false),
            (CLOUD_AWS, "t3medium", false),
            (CLOUD_AWS, "Standard_B1ms", false),
            (CLOUD_AZURE, "Standard_B1ms", true),
            (CLOUD_AZURE, "Standard_D4s_v3", true),
            (CLOUD_AZURE, "standard_b1ms", false),
            (CLOUD_AZURE, "t3.medium", false),
        ];
        for (cloud, size, valid) in cases {
            assert_eq!(check(cloud, size).is_ok(), valid, "{cloud} {size}");
        }
        let reason = check(CLOUD_AZURE, "t3.medium").unwrap_err();
        assert!(
            reason.contains("t3.medium") && reason.contains("Azure") && reason.contains("Standard_B2ms"),
            "{reason}"
        );
    }
}
