//! The type system of Terraform values (cty types) and their JSON type-constraint encoding.
//!
//! Schemas carry attribute types as JSON (`"string"`, `["list","string"]`, `["object",{"a":"number"}]`); the
//! value codecs need the type to decode msgpack and JSON correctly. Nothing here knows about any resource.

use std::collections::BTreeMap;

/// A Terraform type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// Any type: values travel with their type beside them.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// The JSON type constraint as Terraform writes it in schemas.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Value as J};
        match self {
            Type::Bool => J::from("bool"),
            Type::Number => J::from("number"),
            Type::String => J::from("string"),
            Type::Dynamic => J::from("dynamic"),
            Type::List(e) => json!(["list", e.to_json()]),
            Type::Set(e) => json!(["set", e.to_json()]),
            Type::Map(e) => json!(["map", e.to_json()]),
            Type::Object(attrs) => {
                let attrs: serde_json::Map<String, J> = attrs.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                json!(["object", attrs])
            }
            Type::Tuple(elems) => {
                json!(["tuple", elems.iter().map(Type::to_json).collect::<Vec<_>>()])
            }
        }
    }

    /// The JSON type constraint as bytes, as the protocol carries it.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).expect("a type constraint always serialises")
    }

    /// Parses a JSON type constraint.
    pub fn from_json(value: &serde_json::Value) -> Result<Type, String> {
        use serde_json::Value as J;
        match value {
            J::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(format!("unknown primitive type {other:?}")),
            },
            J::Array(parts) if parts.len() >= 2 => {
                let kind = parts[0].as_str().ok_or("type kind must be a string")?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(&parts[1])?)),
                    "set" => Ok(Type::set(Type::from_json(&parts[1])?)),
                    "map" => Ok(Type::map(Type::from_json(&parts[1])?)),
                    "object" => {
                        let attrs = parts[1].as_object().ok_or("object attributes must be a JSON object")?;
                        let attrs = attrs
                            .iter()
                            .map(|(k, v)| Ok((k.clone(), Type::from_json(v)?)))
                            .collect::<Result<_, String>>()?;
                        Ok(Type::Object(attrs))
                    }
                    "tuple" => {
                        let elems = parts[1].as_array().ok_or("tuple elements must be a JSON array")?;
                        Ok(Type::Tuple(elems.iter().map(Type::from_json).collect::<Result<_, _>>()?))
                    }
                    other => Err(format!("unknown type kind {other:?}")),
                }
            }
            other => Err(format!("invalid type constraint {other}")),
        }
    }

    /// A short human name for messages: `list of string`.
    pub fn friendly(&self) -> String {
        match self {
            Type::Bool => "bool".into(),
            Type::Number => "number".into(),
            Type::String => "string".into(),
            Type::Dynamic => "any value".into(),
            Type::List(e) => format!("list of {}", e.friendly()),
            Type::Set(e) => format!("set of {}", e.friendly()),
            Type::Map(e) => format!("map of {}", e.friendly()),
            Type::Object(_) => "object".into(),
            Type::Tuple(_) => "tuple".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_type_constraints_round_trip() {
        let cases = [
            r#""string""#,
            r#""dynamic""#,
            r#"["list","string"]"#,
            r#"["set",["map","number"]]"#,
            r#"["object",{"a":"bool","b":["list","string"]}]"#,
            r#"["tuple",["string","number"]]"#,
        ];
        for case in cases {
            let json: serde_json::Value = serde_json::from_str(case).unwrap();
            let ty = Type::from_json(&json).unwrap();
            assert_eq!(ty.to_json(), json, "{case}");
        }
        assert!(Type::from_json(&serde_json::json!("strng")).is_err());
        assert!(Type::from_json(&serde_json::json!(["lst", "string"])).is_err());
    }
}
