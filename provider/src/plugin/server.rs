//! The tfplugin6 `Provider` gRPC service over a typed [`Provider`]: decoding, dispatch, planning rules that
//! hold for every resource (unknown computed attributes on create, forced replacement, write-only values
//! never stored), and encoding. Resource behaviour lives in the components, never here.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::component::{CallContext, DynDataSource, DynFunction, DynResource, Provider};
use super::diag::{Diagnostic, Diagnostics};
use super::path::AttributePath;
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

/// Marks computed attributes that are null as unknown: their values come from apply.
fn mark_computed_unknown(block: &Block, value: &mut Value) {
    let Value::Object(attrs) = value else { return };
    for a in &block.attributes {
        if a.computed {
            if let Some(v @ Value::Null) = attrs.get_mut(&a.name) {
                *v = Value::Unknown;
            }
        }
    }
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

    async fn plan(
        &self,
        req: &pb::plan_resource_change::Request,
    ) -> Result<pb::plan_resource_change::Response, Diagnostics> {
        let (resource, schema, ty) = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), ty)?;
        let proposed = decode(req.proposed_new_state.as_ref(), ty)?;
        if proposed.is_null() {
            // Destroy: nothing to plan.
            return Ok(pb::plan_resource_change::Response {
                planned_state: Some(encode(&Value::Null, ty)?),
                planned_private: req.prior_private.clone(),
                ..Default::default()
            });
        }
        let mut config = decode(req.config.as_ref(), ty)?;
        mark_computed_unknown(&schema.block, &mut config);
        let problems = resource.validate(&config);
        if !problems.is_empty() {
            return Err(problems.into());
        }
        let mut proposed = proposed;
        if prior.is_null() {
            mark_computed_unknown(&schema.block, &mut proposed);
        }
        let prior_ref = (!prior.is_null()).then_some(&prior);
        let mut planned = resource.plan(&self.context(), prior_ref, &proposed).await?;
        null_write_only(&schema.block, &mut planned);
        let mut requires_replace = Vec::new();
        if let Some(prior) = prior_ref {
            for name in resource.requires_replace() {
                if prior.attr(name) != planned.attr(name) {
                    requires_replace.push(AttributePath::root().attr(name).to_proto());
                }
            }
        }
        Ok(pb::plan_resource_change::Response {
            planned_state: Some(encode(&planned, ty)?),
            requires_replace,
            planned_private: req.prior_private.clone(),
            ..Default::default()
        })
    }

    async fn apply(
        &self,
        req: &pb::apply_resource_change::Request,
    ) -> Result<pb::apply_resource_change::Response, Diagnostics> {
        let (resource, schema, ty) = self.resource(&req.type_name)?;
        let prior = decode(req.prior_state.as_ref(), ty)?;
        let planned = decode(req.planned_state.as_ref(), ty)?;
        let ctx = self.context();
        let mut new_state = if planned.is_null() {
            tracing::info!(type_name = %req.type_name, "deleting");
            resource.delete(&ctx, &prior).await?;
            Value::Null
        } else if prior.is_null() {
            tracing::info!(type_name = %req.type_name, "creating");
            // Write-only values reach create through the configuration, never through state.
            let config = decode(req.config.as_ref(), ty)?;
            resource.create(&ctx, &with_write_only(&schema.block, &planned, &config)).await?
        } else {
            tracing::info!(type_name = %req.type_name, "updating");
            let config = decode(req.config.as_ref(), ty)?;
            resource.update(&ctx, &prior, &with_write_only(&schema.block, &planned, &config)).await?
        };
        null_write_only(&schema.block, &mut new_state);
        Ok(pb::apply_resource_change::Response {
            new_state: Some(encode(&new_state, ty)?),
            private: req.planned_private.clone(),
            ..Default::default()
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
                Ok(typed) => Diagnostics(self.provider.validate(&typed)).to_proto(),
                Err(_) if config.contains_unknown() => vec![],
                Err(e) => vec![super::component::bridge_diagnostic("provider configuration", e).to_proto()],
            },
            Err(d) => diags(d),
        };
        Ok(Response::new(pb::validate_provider_config::Response { diagnostics }))
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
            Ok((r, schema, mut config)) => {
                // Computed attributes are null in configuration: to the typed struct they are not yet known.
                mark_computed_unknown(&schema.block, &mut config);
                Diagnostics(r.validate(&config)).to_proto()
            }
            Err(d) => diags(d),
        };
        Ok(Response::new(pb::validate_resource_config::Response { diagnostics }))
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Result<Response<pb::validate_data_resource_config::Response>, Status> {
        let req = req.into_inner();
        let diagnostics =
            match self.data_source(&req.type_name).and_then(|(d, _, ty)| Ok((d, decode(req.config.as_ref(), ty)?))) {
                Ok((d, config)) => Diagnostics(d.validate(&config)).to_proto(),
                Err(d) => diags(d),
            };
        Ok(Response::new(pb::validate_data_resource_config::Response { diagnostics }))
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
        Ok(Response::new(pb::configure_provider::Response { diagnostics: result.err().map(diags).unwrap_or_default() }))
    }

    async fn read_resource(
        &self,
        req: Request<pb::read_resource::Request>,
    ) -> Result<Response<pb::read_resource::Response>, Status> {
        let req = req.into_inner();
        let result = async {
            let (r, _, ty) = self.resource(&req.type_name)?;
            let current = decode(req.current_state.as_ref(), ty)?;
            let new_state = r.read(&self.context(), &current).await?.unwrap_or(Value::Null);
            encode(&new_state, ty)
        }
        .await;
        Ok(Response::new(match result {
            Ok(state) => {
                pb::read_resource::Response { new_state: Some(state), private: req.private, ..Default::default() }
            }
            Err(d) => pb::read_resource::Response {
                new_state: req.current_state,
                private: req.private,
                diagnostics: diags(d),
                ..Default::default()
            },
        }))
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Result<Response<pb::plan_resource_change::Response>, Status> {
        let req = req.into_inner();
        Ok(Response::new(
            self.plan(&req)
                .await
                .unwrap_or_else(|d| pb::plan_resource_change::Response { diagnostics: diags(d), ..Default::default() }),
        ))
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Result<Response<pb::apply_resource_change::Response>, Status> {
        let req = req.into_inner();
        Ok(Response::new(self.apply(&req).await.unwrap_or_else(|d| {
            pb::apply_resource_change::Response {
                // On failure the prior state stands, so nothing is lost and the next apply retries.
                new_state: req.prior_state.clone(),
                private: req.planned_private.clone(),
                diagnostics: diags(d),
                ..Default::default()
            }
        })))
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Result<Response<pb::import_resource_state::Response>, Status> {
        let req = req.into_inner();
        let result = async {
            let (r, _, ty) = self.resource(&req.type_name)?;
            let state = r.import(&self.context(), &req.id).await?;
            Ok::<_, Diagnostics>(pb::import_resource_state::ImportedResource {
                type_name: req.type_name.clone(),
                state: Some(encode(&state, ty)?),
                private: vec![],
            })
        }
        .await;
        Ok(Response::new(match result {
            Ok(imported) => {
                pb::import_resource_state::Response { imported_resources: vec![imported], ..Default::default() }
            }
            Err(d) => pb::import_resource_state::Response { diagnostics: diags(d), ..Default::default() },
        }))
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
            let state = d.read(&self.context(), &config).await?;
            encode(&state, ty)
        }
        .await;
        Ok(Response::new(match result {
            Ok(state) => pb::read_data_source::Response { state: Some(state), ..Default::default() },
            Err(d) => pb::read_data_source::Response { diagnostics: diags(d), ..Default::default() },
        }))
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
    use crate::plugin::proto::tfplugin6::provider_server::Provider as _;
    use crate::plugin::{Known, TfSchema};

    /// A note kept in memory.
    #[derive(Clone, Debug, Serialize, Deserialize, TfSchema)]
    struct Note {
        /// Assigned on create.
        #[tf(computed)]
        id: Known<String>,
        text: String,
        /// Moving a note to another zone replaces it.
        zone: String,
        /// Used on create and never stored.
        #[tf(optional, write_only)]
        token: Option<String>,
    }

    #[derive(Default)]
    struct Notes {
        tokens_seen: Mutex<Vec<String>>,
        cancelled_seen: Mutex<Option<CancellationToken>>,
    }

    #[tonic::async_trait]
    impl Resource for Arc<Notes> {
        const TYPE_NAME: &'static str = "test_note";
        type State = Note;

        fn requires_replace(&self) -> &'static [&'static str] {
            &["zone"]
        }

        async fn create(&self, ctx: &CallContext, mut planned: Note) -> Result<Note, Diagnostics> {
            self.tokens_seen.lock().unwrap().extend(planned.token.clone());
            *self.cancelled_seen.lock().unwrap() = Some(ctx.cancel.clone());
            planned.id = Known::Value(format!("note-{}", planned.text));
            Ok(planned)
        }
        async fn read(&self, _: &CallContext, current: Note) -> Result<Option<Note>, Diagnostics> {
            Ok((current.text != "gone").then_some(current))
        }
        async fn update(&self, _: &CallContext, _: Note, planned: Note) -> Result<Note, Diagnostics> {
            Ok(planned)
        }
        async fn delete(&self, _: &CallContext, _: Note) -> Result<(), Diagnostics> {
            Ok(())
        }
        async fn import(&self, _: &CallContext, id: &str) -> Result<Note, Diagnostics> {
            Ok(Note { id: Known::Value(id.to_string()), text: "imported".into(), zone: "a".into(), token: None })
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
        async fn configure(&self, _: NoConfig, _: &str) -> Result<(), Diagnostics> {
            Ok(())
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
}
