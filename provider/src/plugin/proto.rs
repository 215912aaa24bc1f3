//! The generated wire types and services of `proto/`.

#[allow(clippy::all, missing_docs)]
pub mod tfplugin6 {
    tonic::include_proto!("tfplugin6");
}

/// go-plugin's control services (package `plugin`).
#[allow(clippy::all, missing_docs)]
pub mod goplugin {
    tonic::include_proto!("plugin");
}
