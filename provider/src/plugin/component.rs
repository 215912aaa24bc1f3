//! What a provider is made of, in typed form: the provider itself, data sources, managed resources and
//! functions. Implementations speak in their own serde structs; the adapters at the bottom of this file turn
//! them into the dynamic form the server dispatches to. Nothing here knows about any particular provider.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::bridge::{from_value, to_value, BridgeError};
use super::diag::{Diagnosed, Diagnostic, Diagnostics, Outcome};
use super::path::AttributePath;
use super::private::Private;
use super::schema::{Schema, TfBlock, TfType};
use super::types::Type;
use super::value::Value;

/// What every call gets: the cancellation token that StopProvider and Shutdown trip.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    pub cancel: CancellationToken,
}

/// Turns a bridge error into a diagnostic on the attribute it concerns.
pub fn bridge_diagnostic(what: &str, e: BridgeError) -> Diagnostic {
    Diagnostic::error(format!("Invalid {what}"), format!("{}: {}", e.path, e.message)).at(e.path)
}

/// The provider: its configuration block and what it offers.
#[tonic::async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider block, as a typed struct.
    type Config: TfBlock + DeserializeOwned + Send + Sync;

    /// Checks the provider block without contacting anything. Values may still be unknown. Warnings are
    /// shown and the run goes on; errors stop it.
    fn validate(&self, _config: &Self::Config) -> Diagnostics {
        Diagnostics::default()
    }

    /// Takes the provider block before any resource call. Must not contact any outside system: clients are
    /// built lazily, when a resource first needs them.
    async fn configure(&self, config: Self::Config, terraform_version: &str) -> Outcome<()>;

    fn data_sources(self: &Arc<Self>) -> Vec<Arc<dyn DynDataSource>>;
    fn resources(self: &Arc<Self>) -> Vec<Arc<dyn DynResource>>;
    fn functions(self: &Arc<Self>) -> Vec<Arc<dyn DynFunction>>;
}

/// A data source: reads something and returns its model with computed attributes filled in.
#[tonic::async_trait]
pub trait DataSource: Send + Sync + 'static {
    const TYPE_NAME: &'static str;
    /// Configuration and result in one struct, as Terraform sees a data source.
    type Model: TfBlock + Serialize + DeserializeOwned + Send + Sync;

    /// Checks configuration without I/O. Called at validate when fully known, and again before read, whose
    /// result carries its warnings.
    fn validate(&self, _config: &Self::Model) -> Diagnostics {
        Diagnostics::default()
    }

    async fn read(&self, ctx: &CallContext, config: Self::Model) -> Outcome<Self::Model>;
}

/// A resource's plan: the state it will have, and the attributes whose change replaces the object beyond
/// those the schema marks `requires_replace` (a rule that depends on values, say).
#[derive(Clone, Debug)]
pub struct Planned<S> {
    pub state: S,
    pub requires_replace: Vec<AttributePath>,
}

impl<S> Planned<S> {
    pub fn new(state: S) -> Planned<S> {
        Planned { state, requires_replace: Vec::new() }
    }

    /// Marks a change at `path` as one that replaces the object.
    pub fn replace(mut self, path: AttributePath) -> Planned<S> {
        self.requires_replace.push(path);
        self
    }
}

impl<S> From<S> for Planned<S> {
    fn from(state: S) -> Self {
        Planned::new(state)
    }
}

/// A managed resource. State is a typed struct; computed attributes not yet known are `Known::Unknown`.
///
/// Plan rules that depend only on the schema (defaults, replacement, keeping computed values) are declared
/// on the state struct's fields and applied by the framework before and after [`Resource::plan`]. Each call
/// gets the object's [`Private`] state: what the resource must remember without showing it.
#[tonic::async_trait]
pub trait Resource: Send + Sync + 'static {
    const TYPE_NAME: &'static str;
    const SCHEMA_VERSION: i64 = 0;
    type State: TfBlock + Serialize + DeserializeOwned + Clone + Send + Sync;

    fn validate(&self, _config: &Self::State) -> Diagnostics {
        Diagnostics::default()
    }

    /// Adjusts the proposed state after the schema's plan rules ran, and may add replacement rules of its
    /// own. The default keeps it.
    async fn plan(
        &self,
        _ctx: &CallContext,
        _prior: Option<&Self::State>,
        proposed: Self::State,
        _private: &mut Private,
    ) -> Outcome<Planned<Self::State>> {
        Ok(Planned::new(proposed).into())
    }

    async fn create(&self, ctx: &CallContext, planned: Self::State, private: &mut Private) -> Outcome<Self::State>;
    /// Refreshes state from the world; `None` means the object is gone.
    async fn read(
        &self,
        ctx: &CallContext,
        current: Self::State,
        private: &mut Private,
    ) -> Outcome<Option<Self::State>>;
    async fn update(
        &self,
        ctx: &CallContext,
        prior: Self::State,
        planned: Self::State,
        private: &mut Private,
    ) -> Outcome<Self::State>;
    async fn delete(&self, ctx: &CallContext, prior: Self::State, private: &Private) -> Outcome<()>;
    /// Builds the state of an existing object from the ID the user gave `terraform import`.
    async fn import(&self, ctx: &CallContext, id: &str, private: &mut Private) -> Outcome<Self::State>;
}

/// Why a function call failed, and which argument caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    pub text: String,
    pub argument: Option<i64>,
}

/// A provider-defined function, called as `provider::NAME::FUNCTION(...)`.
pub trait Function: Send + Sync + 'static {
    const NAME: &'static str;
    const SUMMARY: &'static str;
    /// Parameters in order, as the fields of a struct; its doc comment describes the function.
    type Args: TfBlock + DeserializeOwned + Send;
    type Output: TfType + Serialize;

    fn call(&self, args: Self::Args) -> Result<Self::Output, FunctionError>;
}

// ----- dynamic adapters -----

#[tonic::async_trait]
pub trait DynDataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value) -> Diagnostics;
    async fn read(&self, ctx: &CallContext, config: &Value) -> Outcome<Value>;
}

#[tonic::async_trait]
impl<D: DataSource> DynDataSource for D {
    fn type_name(&self) -> &'static str {
        D::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::of::<D::Model>(0)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match from_value::<D::Model>(config) {
            Ok(model) => DataSource::validate(self, &model),
            // A value not yet known is checked again before read, when it is known.
            Err(e) if config.unknown_along(&e.path) => Diagnostics::default(),
            Err(e) => bridge_diagnostic("configuration", e).into(),
        }
    }

    async fn read(&self, ctx: &CallContext, config: &Value) -> Outcome<Value> {
        let model: D::Model = typed("configuration", config)?;
        let checked = DataSource::validate(self, &model).into_outcome(model)?;
        let result = DataSource::read(self, ctx, checked.value).await;
        checked.diagnostics.before(result)?.and_then(|model| untyped("result", &model))
    }
}
#[tonic::async_trait]
pub trait DynResource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, config: &Value) -> Diagnostics;
    async fn plan(
        &self,
        ctx: &CallContext,
        prior: Option<&Value>,
        proposed: &Value,
        private: &mut Private,
    ) -> Outcome<Planned<Value>>;
    async fn create(&self, ctx: &CallContext, planned: &Value, private: &mut Private) -> Outcome<Value>;
    async fn read(&self, ctx: &CallContext, current: &Value, private: &mut Private) -> Outcome<Option<Value>>;
    async fn update(&self, ctx: &CallContext, prior: &Value, planned: &Value, private: &mut Private) -> Outcome<Value>;
    async fn delete(&self, ctx: &CallContext, prior: &Value, private: &Private) -> Outcome<()>;
    async fn import(&self, ctx: &CallContext, id: &str, private: &mut Private) -> Outcome<Value>;
}

fn typed<T: DeserializeOwned>(what: &str, v: &Value) -> Result<T, Diagnostics> {
    from_value(v).map_err(|e| bridge_diagnostic(what, e).into())
}

fn untyped<T: Serialize>(what: &str, v: &T) -> Outcome<Value> {
    to_value(v).map(Diagnosed::new).map_err(|e| bridge_diagnostic(what, e).into())
}

#[tonic::async_trait]
impl<R: Resource> DynResource for R {
    fn type_name(&self) -> &'static str {
        R::TYPE_NAME
    }

    fn schema(&self) -> Schema {
        Schema::of::<R::State>(R::SCHEMA_VERSION)
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        match from_value::<R::State>(config) {
            Ok(state) => Resource::validate(self, &state),
            // A value not yet known is checked again at plan and apply, when it is known.
            Err(e) if config.unknown_along(&e.path) => Diagnostics::default(),
            Err(e) => bridge_diagnostic("configuration", e).into(),
        }
    }

    async fn plan(
        &self,
        ctx: &CallContext,
        prior: Option<&Value>,
        proposed: &Value,
        private: &mut Private,
    ) -> Outcome<Planned<Value>> {
        let prior: Option<R::State> = prior.map(|p| typed("prior state", p)).transpose()?;
        let proposed: R::State = typed("planned state", proposed)?;
        Resource::plan(self, ctx, prior.as_ref(), proposed, private).await?.and_then(|planned| {
            let state = untyped("planned state", &planned.state)?.value;
            Ok(Planned { state, requires_replace: planned.requires_replace }.into())
        })
    }

    async fn create(&self, ctx: &CallContext, planned: &Value, private: &mut Private) -> Outcome<Value> {
        Resource::create(self, ctx, typed("planned state", planned)?, private)
            .await?
            .keeping(|state| untyped("new state", &state))
    }

    async fn read(&self, ctx: &CallContext, current: &Value, private: &mut Private) -> Outcome<Option<Value>> {
        Resource::read(self, ctx, typed("state", current)?, private).await?.and_then(|state| match state {
            Some(state) => Ok(untyped("state", &state)?.map(Some)),
            None => Ok(None.into()),
        })
    }

    async fn update(&self, ctx: &CallContext, prior: &Value, planned: &Value, private: &mut Private) -> Outcome<Value> {
        Resource::update(self, ctx, typed("prior state", prior)?, typed("planned state", planned)?, private)
            .await?
            .keeping(|state| untyped("new state", &state))
    }

    async fn delete(&self, ctx: &CallContext, prior: &Value, private: &Private) -> Outcome<()> {
        Resource::delete(self, ctx, typed("prior state", prior)?, private).await
    }

    async fn import(&self, ctx: &CallContext, id: &str, private: &mut Private) -> Outcome<Value> {
        Resource::import(self, ctx, id, private).await?.and_then(|state| untyped("imported state", &state))
    }
}

/// A function parameter as the protocol describes it.
pub struct Parameter {
    pub name: String,
    pub ty: Type,
    pub description: String,
}

pub trait DynFunction: Send + Sync {
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn description(&self) -> String;
    fn parameters(&self) -> Vec<Parameter>;
    fn return_type(&self) -> Type;
    fn call(&self, args: &[Value]) -> Result<Value, FunctionError>;
}

impl<F: Function> DynFunction for F {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn summary(&self) -> &'static str {
        F::SUMMARY
    }

    fn description(&self) -> String {
        F::Args::block().description
    }

    fn parameters(&self) -> Vec<Parameter> {
        F::Args::block()
            .attributes
            .into_iter()
            .map(|a| Parameter { name: a.name, ty: a.ty, description: a.description })
            .collect()
    }

    fn return_type(&self) -> Type {
        F::Output::tf_type()
    }

    fn call(&self, args: &[Value]) -> Result<Value, FunctionError> {
        let params = self.parameters();
        if args.len() != params.len() {
            return Err(FunctionError {
                text: format!("{} takes {} arguments, got {}", F::NAME, params.len(), args.len()),
                argument: None,
            });
        }
        let object = Value::Object(params.iter().zip(args).map(|(p, a)| (p.name.clone(), a.clone())).collect());
        let typed_args: F::Args = from_value(&object).map_err(|e| {
            let argument =
                params.iter().position(|p| e.path.0.first() == Some(&super::path::Step::Attr(p.name.clone())));
            FunctionError { text: format!("invalid argument: {}", e.message), argument: argument.map(|i| i as i64) }
        })?;
        let output = Function::call(self, typed_args)?;
        to_value(&output)
            .map_err(|e| FunctionError { text: format!("result could not be encoded: {e}"), argument: None })
    }
}
