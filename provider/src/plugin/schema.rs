//! Schemas: what Terraform is told about each provider, resource, data source and function.
//!
//! Schemas are derived from typed structs (`#[derive(TfSchema)]`): field types give attribute types, doc
//! comments give descriptions, `#[tf(...)]` gives the rest (required, optional, computed, sensitive,
//! write-only, nested blocks, and the plan rules of [`super::plan`]: default, use-state-for-unknown,
//! requires-replace). One source serves code, plan output and registry docs.

use std::collections::{BTreeMap, BTreeSet};

use super::known::Known;
use super::proto::tfplugin6 as pb;
use super::types::Type;
use super::value::Value;

/// Rust types with a Terraform type.
pub trait TfType {
    fn tf_type() -> Type;
}

/// Structs that are a block of attributes and nested blocks: configurations, states, nested blocks.
pub trait TfBlock {
    fn block() -> Block;
}

macro_rules! tf_primitive {
    ($ty:expr => $($t:ty),*) => { $(impl TfType for $t { fn tf_type() -> Type { $ty } })* };
}
tf_primitive!(Type::String => String);
tf_primitive!(Type::Bool => bool);
tf_primitive!(Type::Number => i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

impl<T: TfType> TfType for Vec<T> {
    fn tf_type() -> Type {
        Type::list(T::tf_type())
    }
}
impl<T: TfType> TfType for BTreeSet<T> {
    fn tf_type() -> Type {
        Type::set(T::tf_type())
    }
}
impl<T: TfType> TfType for BTreeMap<String, T> {
    fn tf_type() -> Type {
        Type::map(T::tf_type())
    }
}
impl<T: TfType> TfType for Option<T> {
    fn tf_type() -> Type {
        T::tf_type()
    }
}
impl<T: TfType> TfType for Known<T> {
    fn tf_type() -> Type {
        T::tf_type()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockNesting {
    Single,
    List,
    Set,
    Map,
}

/// A nested attribute's object and how it nests (protocol 6 nested attributes).
#[derive(Clone, Debug, PartialEq)]
pub struct NestedObject {
    pub attributes: Vec<Attribute>,
    pub nesting: BlockNesting,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub nested: Option<NestedObject>,
    pub description: String,
    pub required: bool,
    pub optional: bool,
    pub computed: bool,
    pub sensitive: bool,
    pub write_only: bool,
    pub deprecated: bool,
    /// A change of this attribute replaces the object instead of updating it.
    pub requires_replace: bool,
    /// A computed value that keeps its prior state on update instead of showing "known after apply".
    pub use_state_for_unknown: bool,
    /// The planned value when the configuration leaves the attribute null (needs `optional, computed`).
    pub default: Option<Value>,
}

impl Attribute {
    pub fn new(name: &str, ty: Type, description: &str) -> Attribute {
        Attribute {
            name: name.to_string(),
            ty,
            nested: None,
            description: description.to_string(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: false,
            requires_replace: false,
            use_state_for_unknown: false,
            default: None,
        }
    }

    /// Sets the default from its JSON form, checked against the attribute's type. A default that does not fit
    /// is a bug in the schema: it panics as soon as the schema is built, which every schema test does.
    pub fn with_default_json(mut self, json: serde_json::Value) -> Attribute {
        match Value::from_json(&json, &self.ty) {
            Ok(v) => self.default = Some(v),
            Err(e) => panic!("default of attribute {:?} does not fit its type {:?}: {e}", self.name, self.ty),
        }
        self
    }

    fn to_proto(&self) -> pb::schema::Attribute {
        pb::schema::Attribute {
            name: self.name.clone(),
            r#type: if self.nested.is_some() { Vec::new() } else { self.ty.to_json_bytes() },
            nested_type: self.nested.as_ref().map(|n| pb::schema::Object {
                attributes: n.attributes.iter().map(Attribute::to_proto).collect(),
                nesting: match n.nesting {
                    BlockNesting::Single => pb::schema::object::NestingMode::Single,
                    BlockNesting::List => pb::schema::object::NestingMode::List,
                    BlockNesting::Set => pb::schema::object::NestingMode::Set,
                    BlockNesting::Map => pb::schema::object::NestingMode::Map,
                } as i32,
                ..Default::default()
            }),
            description: self.description.clone(),
            required: self.required,
            optional: self.optional,
            computed: self.computed,
            sensitive: self.sensitive,
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
            write_only: self.write_only,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub type_name: String,
    pub block: Block,
    pub nesting: BlockNesting,
    pub min_items: i64,
    pub max_items: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
    pub description: String,
    pub deprecated: bool,
}

impl Block {
    /// The object type of a value of this block.
    pub fn value_type(&self) -> Type {
        let mut attrs = BTreeMap::new();
        for a in &self.attributes {
            attrs.insert(a.name.clone(), a.ty.clone());
        }
        for b in &self.blocks {
            let object = b.block.value_type();
            let ty = match b.nesting {
                BlockNesting::Single => object,
                BlockNesting::List => Type::list(object),
                BlockNesting::Set => Type::set(object),
                BlockNesting::Map => Type::map(object),
            };
            attrs.insert(b.type_name.clone(), ty);
        }
        Type::Object(attrs)
    }

    /// Paths of attributes marked write-only, which never reach plan or state.
    pub fn write_only_attributes(&self) -> Vec<String> {
        self.attributes.iter().filter(|a| a.write_only).map(|a| a.name.clone()).collect()
    }

    pub fn to_proto(&self, version: i64) -> pb::schema::Block {
        pb::schema::Block {
            version,
            attributes: self.attributes.iter().map(Attribute::to_proto).collect(),
            block_types: self
                .blocks
                .iter()
                .map(|b| pb::schema::NestedBlock {
                    type_name: b.type_name.clone(),
                    block: Some(b.block.to_proto(0)),
                    nesting: match b.nesting {
                        BlockNesting::Single => pb::schema::nested_block::NestingMode::Single,
                        BlockNesting::List => pb::schema::nested_block::NestingMode::List,
                        BlockNesting::Set => pb::schema::nested_block::NestingMode::Set,
                        BlockNesting::Map => pb::schema::nested_block::NestingMode::Map,
                    } as i32,
                    min_items: b.min_items,
                    max_items: b.max_items,
                })
                .collect(),
            description: self.description.clone(),
            description_kind: pb::StringKind::Markdown as i32,
            deprecated: self.deprecated,
        }
    }
}

/// A versioned schema for a provider, resource or data source.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    pub version: i64,
    pub block: Block,
}

impl Schema {
    pub fn of<T: TfBlock>(version: i64) -> Schema {
        Schema { version, block: T::block() }
    }

    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    pub fn to_proto(&self) -> pb::Schema {
        pb::Schema { version: self.version, block: Some(self.block.to_proto(self.version)) }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::plugin::timeouts::Timeouts;
    use crate::plugin::TfSchema;

    /// A rule.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TfSchema)]
    struct Rule {
        /// Port.
        port: i64,
    }

    /// Everything the derive knows.
    #[derive(Debug, Serialize, Deserialize, TfSchema)]
    struct Everything {
        /// Required because it is not an Option,
        /// and this description spans two lines.
        name: String,
        /// Optional because it is an Option.
        note: Option<String>,
        #[tf(computed)]
        id: Option<String>,
        #[tf(optional, computed, sensitive)]
        token: Option<String>,
        #[tf(optional, write_only)]
        password: Option<String>,
        tags: Option<BTreeMap<String, String>>,
        #[tf(block)]
        rules: Vec<Rule>,
        #[tf(block)]
        unique_rules: BTreeSet<Rule>,
        #[tf(block, max_items = 1)]
        single: Option<Rule>,
        #[tf(block)]
        named: BTreeMap<String, Rule>,
        #[tf(block)]
        timeouts: Option<Timeouts>,
        #[tf(nested)]
        listed: Option<Vec<Rule>>,
        /// Replaces the object when changed.
        #[tf(requires_replace)]
        zone: String,
        #[tf(optional, computed, default = "tcp")]
        protocol: Option<String>,
        #[tf(optional, computed, default = [443])]
        ports: Option<Vec<i64>>,
        #[tf(computed, use_state_for_unknown)]
        created: Option<String>,
    }

    /// Derived through an explicit framework path, as a crate of its own would be.
    #[derive(Debug, Serialize, Deserialize, TfSchema)]
    #[tf(crate = "crate::plugin")]
    struct ElsewhereNamed {
        #[tf(optional, computed, default = true)]
        enabled: Option<bool>,
    }

    #[test]
    fn derive_covers_every_attribute_kind_and_nesting() {
        let block = Everything::block();
        assert_eq!(block.description, "Everything the derive knows.");
        let attr = |n: &str| block.attributes.iter().find(|a| a.name == n).unwrap().clone();
        let name = attr("name");
        assert!(name.required && !name.optional);
        assert_eq!(name.description, "Required because it is not an Option, and this description spans two lines.");
        assert!(attr("note").optional && !attr("note").required);
        assert!(attr("id").computed && !attr("id").optional);
        let token = attr("token");
        assert!(token.optional && token.computed && token.sensitive);
        assert!(attr("password").write_only);
        assert_eq!(attr("tags").ty, Type::map(Type::String));
        let listed = attr("listed");
        assert_eq!(listed.nested.as_ref().unwrap().nesting, BlockNesting::List);
        let nesting = |n: &str| block.blocks.iter().find(|b| b.type_name == n).unwrap().nesting;
        assert_eq!(nesting("rules"), BlockNesting::List);
        assert_eq!(nesting("unique_rules"), BlockNesting::Set);
        assert_eq!(nesting("single"), BlockNesting::Single);
        assert_eq!(nesting("named"), BlockNesting::Map);
        assert_eq!(nesting("timeouts"), BlockNesting::Single);
        assert_eq!(block.blocks.iter().find(|b| b.type_name == "single").unwrap().max_items, 1);
        let Type::Object(ty) = block.value_type() else { panic!("blocks are objects") };
        let rule = Type::Object([("port".to_string(), Type::Number)].into_iter().collect());
        assert_eq!(ty["rules"], Type::list(rule.clone()));
        assert_eq!(ty["unique_rules"], Type::set(rule.clone()));
        assert_eq!(ty["single"], rule.clone());
        assert_eq!(ty["named"], Type::map(rule));
        assert_eq!(block.write_only_attributes(), ["password"]);
        // The protocol form leaves `type` empty for nested attributes and carries the JSON type otherwise.
        let proto = block.to_proto(3);
        let tags = proto.attributes.iter().find(|a| a.name == "tags").unwrap();
        assert_eq!(tags.r#type, br#"["map","string"]"#);
        assert!(proto.attributes.iter().find(|a| a.name == "listed").unwrap().r#type.is_empty());
        assert_eq!(proto.version, 3);
        assert!(attr("zone").requires_replace && !attr("name").requires_replace);
        assert_eq!(attr("protocol").default, Some(Value::String("tcp".into())));
        let port = Value::Number(crate::plugin::value::Number::Int(443));
        assert_eq!(attr("ports").default, Some(Value::List(vec![port])));
        assert!(attr("created").use_state_for_unknown && attr("created").default.is_none());
        assert_eq!(ElsewhereNamed::block().attributes[0].default, Some(Value::Bool(true)));
    }

    #[test]
    #[should_panic(expected = "default of attribute \"port\" does not fit")]
    fn a_default_of_the_wrong_type_fails_when_the_schema_is_built() {
        let _ = Attribute::new("port", Type::Number, "").with_default_json(serde_json::json!("https"));
    }
}
