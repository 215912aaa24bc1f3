//! The Azure SDK for Python against the lab's ARM, configured from `lab.env`: azure-identity's
//! ClientSecretCredential through the lab's authority host (which serves the OpenID configuration MSAL reads
//! first), and azure-mgmt-network's NetworkManagementClient at its default api-version listing route tables
//! and creating, reading, replacing and deleting a route. The scenario lives in `tests/python/arm_client.py`
//! and checks each answer as it goes; this test then checks the world with the lab's inventory.
//!
//! The libraries come from `scripts/install-python-azure.sh` (run here, idempotent). Without python3 the
//! test prints `SKIP:` and returns.

mod common;
mod python_client;

use common::lab::Lab;

#[tokio::test]
async fn the_azure_sdk_for_python_drives_the_lab_arm_as_it_drives_azure() {
    if python_client::python3_missing() {
        println!(
            "SKIP: the_azure_sdk_for_python_drives_the_lab_arm_as_it_drives_azure needs python3 on PATH to install the SDK"
        );
        return;
    }
    let python = python_client::python_with("install-python-azure.sh", "python-azure-venv");
    let lab = Lab::up(&[]);
    python_client::run_scenario(&lab.env, &python, "arm_client.py", &[], "azure python scenario: ok").await;
    let (clean, diff) = lab.diff();
    assert!(clean, "the scenario left the node table as it found it: {diff}");
}
