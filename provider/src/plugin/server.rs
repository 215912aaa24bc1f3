//! The tfplugin6 `Provider` gRPC service over a typed [`Provider`]: decoding, dispatch, the planning rules
//! the schema carries (defaults, unknown computed values, kept state, forced replacement: see
//! [`super::plan`]), write-only values never stored, private state handed through, and encoding. Every
//! response carries the call's warnings; only errors fail it. Resource behaviour lives in the components.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::component::{CallContext, DynDataSource, DynFunction, DynResource, Provider};
use super::diag::{Diagnosed, Diagnostic, Diagnostics, Outcome};
use super::plan;
use super::private::Private;
use super::proto::tfplugin6 as pb;
use super::schema::{Block, Schema};
use super::types::Type;
use super::value::Value;

/// Serves one provider to one Terraform process.
pub struct ProviderServer<P: Provider> {
    provider: Arc<P>,
    provider_schema: Schema,
    data_sources: BTreeMap<&'static str, (Arc<dyn DynDataSource>, Schema, Type)>,
    resources: BTreeMap<&'static str, (Arc<dyn DynResource>, Schema, Type)>,
    functions: BTreeMap<&'static str, Arc<dyn DynFunction>>,
    schema_response: OnceLock<pb::get_provider_schema::Response>,
    cancel: CancellationToken,
}

fn decode(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    let Some(dv) = dv else { return Ok(Value::Null) };
    let result = if !dv.msgpack.is_empty() {
        Value::from_msgpack(&dv.msgpack, ty)
    } else if !dv.json.is_empty() {
        let json: serde_json::Value = serde_json::from_slice(&dv.json)
            .map_err(|e| Diagnostics::from(Diagnostic::error("Invalid value from Terraform", e.to_string())))?;
        Value::from_json(&json, ty)
    } else {
        Ok(Value::Null)
    };
    result.map_err(|e| Diagnostic::error("Invalid value from Terraform", e.to_string()).at(e.path).into())
}

fn encode(value: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostics> {
    let msgpack = value.to_msgpack(ty).map_err(|e| {
        Diagnostics::from(Diagnostic::error("Provider produced an invalid value", e.to_string()).at(e.path))
    })?;
    Ok(pb::DynamicValue { msgpack, json: Vec::new() })
}

fn unknown_type(kind: &str, name: &str) -> Diagnostics {
    Diagnostic::error(format!("Unknown {kind} type"), format!("This provider has no {kind} named {name:?}.")).into()
}

/// A configuration as typed validation sees it: defaults filled in, and computed attributes left null seen
/// as not yet known.
fn config_for_validation(block: &Block, config: &Value) -> Value {
    let mut seen = config.clone();
    plan::apply_defaults(block, config, &mut seen);
    plan::mark_computed_unknown(block, config, &mut seen);
    seen
}

fn private_of(bytes: &[u8]) -> Result<Private, Diagnostics> {
    Private::from_bytes(bytes).map_err(Diagnostics::from)
}

/// Write-only values are used during apply and never kept in plan or state.
fn null_write_only(block: &Block, value: &mut Value) {
    let Value::Object(attrs) = value else { return };
    for name in block.write_only_attributes() {
        attrs.insert(name, Value::Null);
    }
}

impl<P: Provider> ProviderServer<P> {
    pub fn new(provider: P, cancel: CancellationToken) -> ProviderServer<P> {
        let provider = Arc::new(provider);
        let data_sources = provider
            .data_sources()
            .into_iter()
            .map(|d| {
                let schema = d.schema();
                let ty = schema.value_type();
                (d.type_name(), (d, schema, ty))
            })
            .collect();
        let resources = provider
            .resources()
            .into_iter()
            .map(|r| {
                let schema = r.schema();
                let ty = schema.value_type();
                (r.type_name(), (r, schema, ty))
            })
            .collect();
        let functions = provider.functions().into_iter().map(|f| (f.name(), f)).collect();
        ProviderServer {
            provider_schema: Schema::of::<P::Config>(0),
            provider,
            data_sources,
            resources,
            functions,
            schema_response: OnceLock::new(),
            cancel,
        }
    }

    fn context(&self) -> CallContext {
        CallContext { cancel: self.cancel.clone() }
    }

    fn function_proto(f: &dyn DynFunction) -> pb::Function {
        pb::Function {
            parameters: f
                .parameters()
                .into_iter()
                .map(|p| pb::function::Parameter {
                    name: p.name,
                    r#type: p.ty.to_json_bytes(),
                    allow_null_value: false,
                    allow_unknown_values: false,
                    description: p.description,
                    description_kind: pb::StringKind::Markdown as i32,
                })
                .collect(),
            variadic_parameter: None,
            r#return: Some(pb::function::Return { r#type: f.return_type().to_json_bytes() }),
            summary: f.summary().to_string(),
            description: f.description(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecation_message: String::new(),
        }
    }

    fn functions_proto(&self) -> std::collections::HashMap<String, pb::Function> {
        self.functions.iter().map(|(name, f)| (name.to_string(), Self::function_proto(f.as_ref()))).collect()
    }

    fn capabilities() -> pb::ServerCapabilities {
        pb::ServerCapabilities { plan_destroy: false, get_provider_schema_optional: true, move_resource_state: false }
    }

    fn data_source(&self, name: &str) -> Result<&(Arc<dyn DynDataSource>, Schema, Type), Diagnostics> {
        self.data_sources.get(name).ok_or_else(|| unknown_type("data source", name))
    }

    fn resource(&self, name: &str) -> Result<&(Arc<dyn DynResource>, Schema, Type), Diagnostics> {
        self.resources.get(name).ok_or_else(|| unknown_type("resource", name))
    }

    async fn plan(&self, req: &pb::plan_resource_change::Request) -> Outcome<pb::plan_resource_change::Response> {
        let (resource, schema, ty) = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), ty)?;
        let proposed = decode(req.proposed_new_state.as_ref(), ty)?;
        if proposed.is_null() {
            // Destroy: nothing to plan.
            return Ok(pb::plan_resource_change::Response {
                planned_state: Some(encode(&Value::Null, ty)?),
                planned_private: req.prior_private.clone(),
                ..Default::default()
            }
            .into());
        }
        let config = decode(req.config.as_ref(), ty)?;
        let block = &schema.block;
        let checked = resource.validate(&config_for_validation(block, &config)).into_outcome(())?;
        let mut proposed = proposed;
        null_write_only(block, &mut proposed);
        plan::apply_defaults(block, &config, &mut proposed);
        let prior_ref = (!prior.is_null()).then_some(&prior);
        if prior_ref != Some(&proposed) {
            plan::mark_computed_unknown(block, &config, &mut proposed);
        }
        if let Some(prior) = prior_ref {
            plan::use_state_for_unknown(block, prior, &config, &mut proposed);
        }
        let mut private = private_of(&req.prior_private)?;
        let planned =
            checked.diagnostics.before(resource.plan(&self.context(), prior_ref, &proposed, &mut private).await)?;
        planned.and_then(|planned| {
            let mut state = planned.state;
            null_write_only(block, &mut state);
            let mut requires_replace = planned.requires_replace;
            if let Some(prior) = prior_ref {
                for path in plan::replacing_paths(block, prior, &state) {
                    if !requires_replace.contains(&path) {
                        requires_replace.push(path);
                    }
                }
            }
            Ok(pb::plan_resource_change::Response {
                planned_state: Some(encode(&state, ty)?),
                requires_replace: requires_replace.iter().map(|p| p.to_proto()).collect(),
                planned_private: private.to_bytes(),
                ..Default::default()
            }
            .into())
        })
    }

    async fn apply(&self, req: &pb::apply_resource_change::Request) -> Outcome<pb::apply_resource_change::Response> {
        let (resource, schema, ty) = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), ty)?;
        let planned = decode(req.planned_state.as_ref(), ty)?;
        let ctx = self.context();
        let mut private = private_of(&req.planned_private)?;
        let applied = if planned.is_null() {
            tracing::info!(type_name = %req.type_name, "deleting");
            resource.delete(&ctx, &prior, &private).await?.map(|()| Value::Null)
        } else if prior.is_null() {
            tracing::info!(type_name = %req.type_name, "creating");
            // Write-only values reach create through the configuration, never through state.
            let config = decode(req.config.as_ref(), ty)?;
            resource.create(&ctx, &with_write_only(&schema.block, &planned, &config), &mut private).await?
        } else {
            tracing::info!(type_name = %req.type_name, "updating");
            let config = decode(req.config.as_ref(), ty)?;
            resource.update(&ctx, &prior, &with_write_only(&schema.block, &planned, &config), &mut private).await?
        };
        // An incomplete create or update (an object left behind, with an error) is recorded, not dropped.
        applied.keeping(|mut new_state| {
            null_write_only(&schema.block, &mut new_state);
            let private = if new_state.is_null() { Vec::new() } else { private.to_bytes() };
            Ok(pb::apply_resource_change::Response {
                new_state: Some(encode(&new_state, ty)?),
                private,
                ..Default::default()
            }
            .into())
        })
    }
}

/// The planned state with write-only attributes taken from configuration.
fn with_write_only(block: &Block, planned: &Value, config: &Value) -> Value {
    let mut merged = planned.clone();
    if let (Value::Object(m), Value::Object(c)) = (&mut merged, config) {
        for name in block.write_only_attributes() {
            if let Some(v) = c.get(&name) {
                m.insert(name, v.clone());
            }
        }
    }
    merged
}

fn diags(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.to_proto()
}

/// Responses that carry diagnostics.
trait HasDiagnostics: Default {
    fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic>;
}

macro_rules! has_diagnostics {
    ($($t:ty),*) => { $(impl HasDiagnostics for $t {
        fn diagnostics_mut(&mut self) -> &mut Vec<pb::Diagnostic> { &mut self.diagnostics }
    })* };
}
has_diagnostics!(
    pb::validate_provider_config::Response,
    pb::validate_resource_config::Response,
    pb::validate_data_resource_config::Response,
    pb::configure_provider::Response,
    pb::read_resource::Response,
    pb::plan_resource_change::Response,
    pb::apply_resource_change::Response,
    pb::import_resource_state::Response,
    pb::read_data_source::Response
);

/// The response of a call: on success its value with the warnings appended, on failure `failed` (what
/// Terraform must keep, such as the prior state) with every diagnostic.
fn respond<R: HasDiagnostics>(outcome: Outcome<R>, failed: impl FnOnce() -> R) -> R {
    let (mut response, d) = match outcome {
        Ok(Diagnosed { value, diagnostics }) => (value, diagnostics),
        Err(d) => (failed(), d),
    };
    response.diagnostics_mut().extend(d.to_proto());
    response
}

/// The response of a validation call: every diagnostic, warnings and errors alike.
fn validated<R: HasDiagnostics>(d: Diagnostics) -> R {
    let mut response = R::default();
    *response.diagnostics_mut() = d.to_proto();
    response
}

#[tonic::async_trait]
impl<P: Provider> pb::provider_server::Provider for ProviderServer<P> {
    async fn get_metadata(
        &self,
        _: Request<pb::get_metadata::Request>,
    ) -> Result<Response<pb::get_metadata::Response>, Status> {
        use pb::get_metadata as m;
        Ok(Response::new(m::Response {
            server_capabilities: Some(Self::capabilities()),
            diagnostics: vec![],
            data_sources: self
                .data_sources
                .keys()
                .map(|n| m::DataSourceMetadata { type_name: n.to_string() })
                .collect(),
            resources: self.resources.keys().map(|n| m::ResourceMetadata { type_name: n.to_string() }).collect(),
            functions: self.functions.keys().map(|n| m::FunctionMetadata { name: n.to_string() }).collect(),
            ephemeral_resources: vec![],
        }))
    }

    async fn get_provider_schema(
        &self,
        _: Request<pb::get_provider_schema::Request>,
    ) -> Result<Response<pb::get_provider_schema::Response>, Status> {
        let response = self.schema_response.get_or_init(|| pb::get_provider_schema::Response {
            provider: Some(self.provider_schema.to_proto()),
            resource_schemas: self.resources.iter().map(|(n, (_, s, _))| (n.to_string(), s.to_proto())).collect(),
            data_source_schemas: self.data_sources.iter().map(|(n, (_, s, _))| (n.to_string(), s.to_proto())).collect(),
            functions: self.functions_proto(),
            ephemeral_resource_schemas: Default::default(),
            diagnostics: vec![],
            provider_meta: None,
            server_capabilities: Some(Self::capabilities()),
        });
        Ok(Response::new(response.clone()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Result<Response<pb::validate_provider_config::Response>, Status> {
        let req = req.into_inner();
        let ty = self.provider_schema.value_type();
        let diagnostics = match decode(req.config.as_ref(), &ty) {
            Ok(config) => match super::bridge::from_value::<P::Config>(&config) {
                Ok(typed) => self.provider.validate(&typed),
                Err(e) if config.unknown_along(&e.path) => Diagnostics::default(),
                Err(e) => super::component::bridge_diagnostic("provider configuration", e).into(),
            },
            Err(d) => d,
        };
        Ok(Response::new(validated(diagnostics)))
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Result<Response<pb::validate_resource_config::Response>, Status> {
        let req = req.into_inner();
        let diagnostics = match self
            .resource(&req.type_name)
            .and_then(|(r, schema, ty)| Ok((r, schema, decode(req.config.as_ref(), ty)?)))
        {
            Ok((r, schema, config)) => r.validate(&config_for_validation(&schema.block, &config)),
            Err(d) => d,
        };
        Ok(Response::new(validated(diagnostics)))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = req.into_inner();
        let diagnostics =
            match self.data_source(&req.type_name).and_then(|(d, _, ty)| Ok((d, decode(req.config.as_ref(), ty)?))) {
                Ok((d, config)) => d.validate(&config),
                Err(d) => d,
            };
        Ok(Response::new(validated(diagnostics)))
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Result<Response<pb::upgrade_resource_state::Response>, Status> {
        let req = req.into_inner();
        let result = (|| {
            let (_, schema, ty) = self.resource(&req.type_name)?;
            if req.version > schema.version {
                return Err(Diagnostics::from(Diagnostic::error(
                    "State from a newer provider",
                    format!("The state of this {} was written by schema version {}, newer than this provider's {}; upgrade the provider.", req.type_name, req.version, schema.version),
                )));
            }
            let raw = req.raw_state.as_ref().map(|r| r.json.clone()).unwrap_or_default();
            if raw.is_empty() {
                return Err(Diagnostic::error(
                    "Unsupported state format",
                    "Only JSON state is supported (this provider never wrote flatmap state).",
                )
                .into());
            }
            let json: serde_json::Value = serde_json::from_slice(&raw)
                .map_err(|e| Diagnostics::from(Diagnostic::error("Corrupt state", e.to_string())))?;
            let json = drop_unknown_attributes(json, ty);
            let value = Value::from_json(&json, ty)
                .map_err(|e| Diagnostics::from(Diagnostic::error("Corrupt state", e.to_string()).at(e.path)))?;
            encode(&value, ty)
        })();
        Ok(Response::new(match result {
            Ok(state) => pb::upgrade_resource_state::Response { upgraded_state: Some(state), diagnostics: vec![] },
            Err(d) => pb::upgrade_resource_state::Response { upgraded_state: None, diagnostics: diags(d) },
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Result<Response<pb::configure_provider::Response>, Status> {
        let req = req.into_inner();
        let ty = self.provider_schema.value_type();
        let result = async {
            let config = decode(req.config.as_ref(), &ty)?;
            let typed = super::bridge::from_value::<P::Config>(&config)
                .map_err(|e| Diagnostics::from(super::component::bridge_diagnostic("provider configuration", e)))?;
            self.provider.configure(typed, &req.terraform_version).await
        }
        .await;
        Ok(Response::new(respond(result.map(|done| done.map(|()| Default::default())), Default::default)))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = req.into_inner();
        let result = async {
            let (r, _, ty) = self.resource(&req.type_name)?;
            let current = decode(req.current_state.as_ref(), ty)?;
            let mut private = private_of(&req.private)?;
            r.read(&self.context(), &current, &mut private).await?.and_then(|state| {
                let gone = state.is_none();
                Ok(pb::read_resource::Response {
                    new_state: Some(encode(&state.unwrap_or(Value::Null), ty)?),
                    private: if gone { Vec::new() } else { private.to_bytes() },
                    ..Default::default()
                }
                .into())
            })
        }
        .await;
        // On failure the current state and private state stand.
        Ok(Response::new(respond(result, || pb::read_resource::Response {
            new_state: req.current_state.clone(),
            private: req.private.clone(),
            ..Default::default()
        })))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = req.into_inner();
        Ok(Response::new(respond(self.plan(&req).await, Default::default)))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = req.into_inner();
        // On failure the prior state stands, so nothing is lost and the next apply retries.
        Ok(Response::new(respond(self.apply(&req).await, || pb::apply_resource_change::Response {
            new_state: req.prior_state.clone(),
            private: req.planned_private.clone(),
            ..Default::default()
        })))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = req.into_inner();
        let result = async {
            let (r, _, ty) = self.resource(&req.type_name)?;
            let mut private = Private::default();
            r.import(&self.context(), &req.id, &mut private).await?.and_then(|state| {
                let imported = pb::import_resource_state::ImportedResource {
                    type_name: req.type_name.clone(),
                    state: Some(encode(&state, ty)?),
                    private: private.to_bytes(),
                };
                Ok(pb::import_resource_state::Response { imported_resources: vec![imported], ..Default::default() }
                    .into())
            })
        }
        .await;
        Ok(Response::new(respond(result, Default::default)))
    }

    async fn move_resource_state(
        &self,
        req: Request<pb::move_resource_state::Request>,
    ) -> Result<Response<pb::move_resource_state::Response>, Status> {
        let req = req.into_inner();
        Ok(Response::new(pb::move_resource_state::Response {
            diagnostics: vec![Diagnostic::error(
                "Moving state is not supported",
                format!(
                    "{} cannot take state moved from {}; remove the moved block and import the object instead.",
                    req.target_type_name, req.source_type_name
                ),
            )
            .to_proto()],
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Result<Response<pb::read_data_source::Response>, Status> {
        let req = req.into_inner();
        let result = async {
            let (d, _, ty) = self.data_source(&req.type_name)?;
            let config = decode(req.config.as_ref(), ty)?;
            tracing::debug!(type_name = %req.type_name, "reading data source");
            d.read(&self.context(), &config).await?.and_then(|state| {
                Ok(pb::read_data_source::Response { state: Some(encode(&state, ty)?), ..Default::default() }.into())
            })
        }
        .await;
        Ok(Response::new(respond(result, Default::default)))
    }

    async fn validate_ephemeral_resource_config(
        &self,
        req: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Result<Response<pb::validate_ephemeral_resource_config::Response>, Status> {
        Ok(Response::new(pb::validate_ephemeral_resource_config::Response {
            diagnostics: diags(unknown_type("ephemeral resource", &req.into_inner().type_name)),
        }))
    }

    async fn open_ephemeral_resource(
        &self,
        req: Request<pb::open_ephemeral_resource::Request>,
    ) -> Result<Response<pb::open_ephemeral_resource::Response>, Status> {
        Ok(Response::new(pb::open_ephemeral_resource::Response {
            diagnostics: diags(unknown_type("ephemeral resource", &req.into_inner().type_name)),
            ..Default::default()
        }))
    }

    async fn renew_ephemeral_resource(
        &self,
        req: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Result<Response<pb::renew_ephemeral_resource::Response>, Status> {
        Ok(Response::new(pb::renew_ephemeral_resource::Response {
            diagnostics: diags(unknown_type("ephemeral resource", &req.into_inner().type_name)),
            ..Default::default()
        }))
    }

    async fn close_ephemeral_resource(
        &self,
        req: Request<pb::close_ephemeral_resource::Request>,
    ) -> Result<Response<pb::close_ephemeral_resource::Response>, Status> {
        Ok(Response::new(pb::close_ephemeral_resource::Response {
            diagnostics: diags(unknown_type("ephemeral resource", &req.into_inner().type_name)),
        }))
    }

    async fn get_functions(
        &self,
        _: Request<pb::get_functions::Request>,
    ) -> Result<Response<pb::get_functions::Response>, Status> {
        Ok(Response::new(pb::get_functions::Response { functions: self.functions_proto(), diagnostics: vec![] }))
    }

    async fn call_function(
        &self,
        req: Request<pb::call_function::Request>,
    ) -> Result<Response<pb::call_function::Response>, Status> {
        let req = req.into_inner();
        let Some(f) = self.functions.get(req.name.as_str()) else {
            return Ok(Response::new(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError {
                    text: format!("this provider has no function named {:?}", req.name),
                    function_argument: None,
                }),
            }));
        };
        let params = f.parameters();
        let mut args = Vec::with_capacity(req.arguments.len());
        for (i, (dv, p)) in req.arguments.iter().zip(&params).enumerate() {
            match decode(Some(dv), &p.ty) {
                Ok(v) => args.push(v),
                Err(d) => {
                    let text = d.0.first().map(|d| d.detail.clone()).unwrap_or_default();
                    return Ok(Response::new(pb::call_function::Response {
                        result: None,
                        error: Some(pb::FunctionError { text, function_argument: Some(i as i64) }),
                    }));
                }
            }
        }
        if req.arguments.len() != params.len() {
            args.resize(req.arguments.len().max(args.len()), Value::Null);
        }
        let response = match f.call(&args).and_then(|v| {
            v.to_msgpack(&f.return_type())
                .map_err(|e| super::component::FunctionError { text: e.to_string(), argument: None })
        }) {
            Ok(msgpack) => {
                pb::call_function::Response { result: Some(pb::DynamicValue { msgpack, json: vec![] }), error: None }
            }
            Err(e) => pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError { text: e.text, function_argument: e.argument }),
            },
        };
        Ok(Response::new(response))
    }

    async fn stop_provider(
        &self,
        _: Request<pb::stop_provider::Request>,
    ) -> Result<Response<pb::stop_provider::Response>, Status> {
        tracing::info!("stop requested: cancelling in-flight operations");
        self.cancel.cancel();
        Ok(Response::new(pb::stop_provider::Response { error: String::new() }))
    }
}

/// Stored state may hold attributes an older schema had; drop them rather than fail the upgrade.
fn drop_unknown_attributes(json: serde_json::Value, ty: &Type) -> serde_json::Value {
    match (json, ty) {
        (serde_json::Value::Object(mut m), Type::Object(types)) => {
            m.retain(|k, _| types.contains_key(k));
            for (k, t) in types {
                if let Some(v) = m.remove(k) {
                    m.insert(k.clone(), drop_unknown_attributes(v, t));
                }
            }
            serde_json::Value::Object(m)
        }
        (serde_json::Value::Array(items), Type::List(t) | Type::Set(t)) => {
            serde_json::Value::Array(items.into_iter().map(|i| drop_unknown_attributes(i, t)).collect())
        }
        (json, _) => json,
    }
}

#[cfg(test)]
mod tests {
    //! The framework with a resource of its own, no Aviatrix in sight: planning rules, apply, import, stop.

    use std::sync::Mutex;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::plugin::component::{CallContext, Resource};
    use crate::plugin::path::AttributePath;
    use crate::plugin::proto::tfplugin6::provider_server::Provider as _;
    use crate::plugin::{Known, TfSchema};

    /// A note kept in memory.
    #[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
    struct Note {
        /// Assigned on create.
        #[tf(computed, use_state_for_unknown)]
        id: Known<String>,
        text: String,
        /// Moving a note to another zone replaces it.
        #[tf(requires_replace)]
        zone: String,
        /// Used on create and never stored.
        #[tf(optional, write_only)]
        token: Option<String>,
    }

    /// What the note's zone was when it was made, remembered out of sight.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Origin {
        zone: String,
    }

    impl crate::plugin::PrivateEntry for Origin {
        const KEY: &'static str = "origin";
        const VERSION: u32 = 1;
    }

    #[derive(Default)]
    struct Notes {
        tokens_seen: Mutex<Vec<String>>,
        cancelled_seen: Mutex<Option<CancellationToken>>,
        origins_seen: Mutex<Vec<Option<Origin>>>,
    }

    fn warning(summary: &str) -> Diagnostic {
        Diagnostic::warning(summary, "a note about the note")
    }

    #[tonic::async_trait]
    impl Resource for Arc<Notes> {
        const TYPE_NAME: &'static str = "test_note";
        type State = Note;

        fn validate(&self, config: &Note) -> Diagnostics {
            match config.text.as_str() {
                "warn" => warning("validate warns").into(),
                "bad" => Diagnostic::error("Invalid text", "text = \"bad\" is refused").into(),
                _ => Diagnostics::default(),
            }
        }

        async fn plan(
            &self,
            _: &CallContext,
            _: Option<&Note>,
            proposed: Note,
            _: &mut crate::plugin::Private,
        ) -> Outcome<crate::plugin::Planned<Note>> {
            let warn = proposed.text == "warn";
            let planned = crate::plugin::Planned::new(proposed);
            Ok(if warn { Diagnosed::new(planned).with(warning("plan warns")) } else { planned.into() })
        }

        async fn create(
            &self,
            ctx: &CallContext,
            mut planned: Note,
            private: &mut crate::plugin::Private,
        ) -> Outcome<Note> {
            self.tokens_seen.lock().unwrap().extend(planned.token.clone());
            *self.cancelled_seen.lock().unwrap() = Some(ctx.cancel.clone());
            planned.id = Known::Value(format!("note-{}", planned.text));
            private.set(&Origin { zone: planned.zone.clone() })?;
            if planned.text == "stuck" {
                return Ok(Diagnosed::incomplete(planned, Diagnostic::error("Stuck", "made, but never became ready")));
            }
            Ok(Diagnosed::new(planned).with(warning("create warns")))
        }
        async fn read(
            &self,
            _: &CallContext,
            current: Note,
            private: &mut crate::plugin::Private,
        ) -> Outcome<Option<Note>> {
            self.origins_seen.lock().unwrap().push(private.get::<Origin>()?);
            Ok((current.text != "gone").then_some(current).into())
        }
        async fn update(
            &self,
            _: &CallContext,
            _: Note,
            planned: Note,
            _: &mut crate::plugin::Private,
        ) -> Outcome<Note> {
            Ok(planned.into())
        }
        async fn delete(&self, _: &CallContext, _: Note, _: &crate::plugin::Private) -> Outcome<()> {
            Ok(().into())
        }
        async fn import(&self, _: &CallContext, id: &str, private: &mut crate::plugin::Private) -> Outcome<Note> {
            private.set(&Origin { zone: "imported".into() })?;
            Ok(Note { id: Known::Value(id.to_string()), text: "imported".into(), zone: "a".into(), token: None }.into())
        }
    }

    #[derive(Default)]
    struct TestProvider {
        notes: Arc<Notes>,
    }

    #[derive(Debug, Serialize, Deserialize, TfSchema)]
    struct NoConfig {}

    #[tonic::async_trait]
    impl Provider for TestProvider {
        type Config = NoConfig;
        async fn configure(&self, _: NoConfig, _: &str) -> Outcome<()> {
            Ok(().into())
        }
        fn data_sources(self: &Arc<Self>) -> Vec<Arc<dyn DynDataSource>> {
            vec![]
        }
        fn resources(self: &Arc<Self>) -> Vec<Arc<dyn DynResource>> {
            vec![Arc::new(self.notes.clone())]
        }
        fn functions(self: &Arc<Self>) -> Vec<Arc<dyn DynFunction>> {
            vec![]
        }
    }

    fn server() -> ProviderServer<TestProvider> {
        ProviderServer::new(TestProvider::default(), CancellationToken::new())
    }

    fn ty() -> Type {
        Schema::of::<Note>(0).value_type()
    }

    fn dv(v: &Value) -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue { msgpack: v.to_msgpack(&ty()).unwrap(), json: vec![] })
    }

    fn note(id: Value, text: &str, zone: &str, token: Value) -> Value {
        Value::Object(
            [("id", id), ("text", Value::String(text.into())), ("zone", Value::String(zone.into())), ("token", token)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn back(dv: Option<pb::DynamicValue>) -> Value {
        Value::from_msgpack(&dv.unwrap().msgpack, &ty()).unwrap()
    }

    #[tokio::test]
    async fn create_plans_unknown_ids_uses_write_only_values_and_never_stores_them() {
        let s = server();
        let config = note(Value::Null, "hello", "a", Value::String("t0ken".into()));
        let plan = s
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&Value::Null),
                proposed_new_state: dv(&config),
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
        let planned = back(plan.planned_state);
        let validated = s
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "test_note".into(),
                config: dv(&config),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(
            validated.diagnostics.is_empty(),
            "a computed attribute left null in configuration is valid: {:?}",
            validated.diagnostics
        );
        assert_eq!(planned.attr("id"), Some(&Value::Unknown));
        assert_eq!(planned.attr("token"), Some(&Value::Null), "write-only values never reach the plan");

        let applied = s
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&Value::Null),
                planned_state: dv(&planned),
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let state = back(applied.new_state);
        assert_eq!(state.attr("id"), Some(&Value::String("note-hello".into())));
        assert_eq!(state.attr("token"), Some(&Value::Null), "write-only values never reach state");
        assert_eq!(*s.provider.notes.tokens_seen.lock().unwrap(), ["t0ken"]);
    }

    #[tokio::test]
    async fn changing_a_replacing_attribute_requires_replace() {
        let s = server();
        let prior = note(Value::String("n1".into()), "x", "a", Value::Null);
        let proposed = note(Value::String("n1".into()), "x", "b", Value::Null);
        let plan = s
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&prior),
                proposed_new_state: dv(&proposed),
                config: dv(&proposed),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        let paths: Vec<String> =
            plan.requires_replace.iter().map(|p| AttributePath::from_proto(p).to_string()).collect();
        assert_eq!(paths, ["zone"]);
    }

    #[tokio::test]
    async fn read_reports_gone_objects_as_null_and_import_builds_state() {
        let s = server();
        let gone = note(Value::String("n1".into()), "gone", "a", Value::Null);
        let read = s
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: "test_note".into(),
                current_state: dv(&gone),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(back(read.new_state), Value::Null);
        let imported = s
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "test_note".into(),
                id: "n9".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(back(imported.imported_resources[0].state.clone()).attr("id"), Some(&Value::String("n9".into())));
        let unknown = s
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "test_nope".into(),
                id: "x".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(unknown.diagnostics[0].detail.contains("test_nope"));
    }

    #[tokio::test]
    async fn stop_provider_cancels_what_calls_hold() {
        let s = server();
        let config = note(Value::Null, "x", "a", Value::Null);
        s.apply_resource_change(Request::new(pb::apply_resource_change::Request {
            type_name: "test_note".into(),
            prior_state: dv(&Value::Null),
            planned_state: dv(&note(Value::Unknown, "x", "a", Value::Null)),
            config: dv(&config),
            ..Default::default()
        }))
        .await
        .unwrap();
        let token = s.provider.notes.cancelled_seen.lock().unwrap().clone().unwrap();
        assert!(!token.is_cancelled());
        s.stop_provider(Request::new(pb::stop_provider::Request {})).await.unwrap();
        assert!(token.is_cancelled(), "an in-flight call's token must see StopProvider");
    }

    #[tokio::test]
    async fn upgrade_reads_json_state_and_drops_attributes_the_schema_no_longer_has() {
        let s = server();
        let raw = br#"{"id":"n1","text":"t","zone":"a","token":null,"legacy":"x"}"#.to_vec();
        let up = s
            .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "test_note".into(),
                version: 0,
                raw_state: Some(pb::RawState { json: raw, flatmap: Default::default() }),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(up.diagnostics.is_empty(), "{:?}", up.diagnostics);
        assert_eq!(back(up.upgraded_state).attr("text"), Some(&Value::String("t".into())));
    }

    fn severities(d: &[pb::Diagnostic]) -> Vec<(i32, String)> {
        d.iter().map(|d| (d.severity, d.summary.clone())).collect()
    }

    const WARNING: i32 = pb::diagnostic::Severity::Warning as i32;
    const ERROR: i32 = pb::diagnostic::Severity::Error as i32;

    #[tokio::test]
    async fn warnings_reach_terraform_at_validate_plan_and_apply_and_do_not_stop_the_call() {
        let s = server();
        let config = note(Value::Null, "warn", "a", Value::Null);
        let validated = s
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "test_note".into(),
                config: dv(&config),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(severities(&validated.diagnostics), [(WARNING, "validate warns".to_string())]);
        let plan = s
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&Value::Null),
                proposed_new_state: dv(&config),
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            severities(&plan.diagnostics),
            [(WARNING, "validate warns".to_string()), (WARNING, "plan warns".to_string())]
        );
        assert!(plan.planned_state.is_some(), "a warning keeps the plan");
        let applied = s
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&Value::Null),
                planned_state: plan.planned_state,
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(severities(&applied.diagnostics), [(WARNING, "create warns".to_string())]);
        assert_eq!(back(applied.new_state).attr("id"), Some(&Value::String("note-warn".into())));
    }

    #[tokio::test]
    async fn an_incomplete_create_is_recorded_with_its_error() {
        let s = server();
        let planned = note(Value::Unknown, "stuck", "a", Value::Null);
        let applied = s
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&Value::Null),
                planned_state: dv(&planned),
                config: dv(&note(Value::Null, "stuck", "a", Value::Null)),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(severities(&applied.diagnostics), [(ERROR, "Stuck".to_string())]);
        assert_eq!(back(applied.new_state).attr("id"), Some(&Value::String("note-stuck".into())));
        assert!(!applied.private.is_empty(), "its private state is kept too");
    }

    #[tokio::test]
    async fn a_validation_error_stops_the_plan() {
        let s = server();
        let config = note(Value::Null, "bad", "a", Value::Null);
        let plan = s
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&Value::Null),
                proposed_new_state: dv(&config),
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(plan.diagnostics.len(), 1);
        assert_eq!(plan.diagnostics[0].severity, pb::diagnostic::Severity::Error as i32);
        assert!(plan.planned_state.is_none());
    }

    #[tokio::test]
    async fn an_update_keeps_a_computed_value_marked_use_state_for_unknown() {
        let s = server();
        let prior = note(Value::String("note-x".into()), "x", "a", Value::Null);
        let config = note(Value::Null, "y", "a", Value::Null);
        // Terraform proposes the prior value for a computed attribute the configuration leaves null.
        let proposed = note(Value::String("note-x".into()), "y", "a", Value::Null);
        let plan = s
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&prior),
                proposed_new_state: dv(&proposed),
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(plan.requires_replace.is_empty());
        assert_eq!(back(plan.planned_state).attr("id"), Some(&Value::String("note-x".into())));
    }

    #[tokio::test]
    async fn private_state_written_on_create_and_import_comes_back_on_read() {
        let s = server();
        let config = note(Value::Null, "p", "zone-1", Value::Null);
        let applied = s
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "test_note".into(),
                prior_state: dv(&Value::Null),
                planned_state: dv(&note(Value::Unknown, "p", "zone-1", Value::Null)),
                config: dv(&config),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(!applied.private.is_empty(), "create wrote private state");
        let state = applied.new_state.clone();
        let read = s
            .read_resource(Request::new(pb::read_resource::Request {
                type_name: "test_note".into(),
                current_state: state,
                private: applied.private.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(read.private, applied.private, "read hands private state back");
        let imported = s
            .import_resource_state(Request::new(pb::import_resource_state::Request {
                type_name: "test_note".into(),
                id: "n2".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        s.read_resource(Request::new(pb::read_resource::Request {
            type_name: "test_note".into(),
            current_state: imported.imported_resources[0].state.clone(),
            private: imported.imported_resources[0].private.clone(),
            ..Default::default()
        }))
        .await
        .unwrap();
        let seen = s.provider.notes.origins_seen.lock().unwrap();
        assert_eq!(*seen, [Some(Origin { zone: "zone-1".into() }), Some(Origin { zone: "imported".into() })]);
    }
}
