//! Schemas: what Terraform is told about each provider, resource, data source and function.
//!
//! Schemas are derived from typed structs (`#[derive(TfSchema)]`): field types give attribute types, doc
//! comments give descriptions, `#[tf(...)]` gives the rest (required, optional, computed, sensitive,
//! write-only, nested blocks). One source serves code, plan output and registry docs.

use std::collections::{BTreeMap, BTreeSet};

use super::known::Known;
use super::proto::tfplugin6 as pb;
use super::types::Type;

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
        }
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
