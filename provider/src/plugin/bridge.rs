//! The serde bridge: typed Rust structs to and from [`Value`]s.
//!
//! This is where raw values stop. Resources, data sources and functions declare their configuration and state
//! as structs with serde derives; the framework decodes the wire value by schema type, then deserializes it
//! here into the struct (with the attribute path in any error), and serializes results back the same way.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

use super::known::KNOWN_MARKER;
use super::path::AttributePath;
use super::value::{Number, Value};

/// A value that did not fit the struct, and where.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct BridgeError {
    pub path: AttributePath,
    pub message: String,
}

impl de::Error for BridgeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        BridgeError { path: AttributePath::root(), message: msg.to_string() }
    }
}

impl ser::Error for BridgeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        BridgeError { path: AttributePath::root(), message: msg.to_string() }
    }
}

/// Deserializes a typed struct from a value.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, BridgeError> {
    T::deserialize(ValueDe { value, path: AttributePath::root() })
}

/// Serializes a typed struct into a value.
pub fn to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value, BridgeError> {
    v.serialize(ValueSer)
}

struct ValueDe<'a> {
    value: &'a Value,
    path: AttributePath,
}

impl ValueDe<'_> {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, BridgeError> {
        Err(BridgeError { path: self.path.clone(), message: message.into() })
    }

    fn inner(&self) -> &Value {
        match self.value {
            Value::Dynamic(_, v) => v,
            v => v,
        }
    }
}

macro_rules! de_int {
    ($method:ident, $visit:ident, $t:ty) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
            match self.inner() {
                Value::Number(n) => match n.as_i64().and_then(|i| <$t>::try_from(i).ok()) {
                    Some(i) => visitor.$visit(i),
                    None => self.fail(format!("expected a whole number that fits {}, got {n:?}", stringify!($t))),
                },
                Value::Unknown => self.fail("value is not yet known"),
                other => self.fail(format!("expected a number, got {other:?}")),
            }
        }
    };
}

impl<'de> de::Deserializer<'de> for ValueDe<'_> {
    type Error = BridgeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.inner() {
            Value::Null => visitor.visit_unit(),
            Value::Unknown => self.fail("value is not yet known"),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(Number::Int(i)) => visitor.visit_i64(*i),
            Value::Number(Number::Float(f)) => visitor.visit_f64(*f),
            Value::Number(Number::Big(s)) => visitor.visit_str(s),
            Value::String(s) => visitor.visit_str(s),
            Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
                visitor.visit_seq(SeqDe { items: items.iter(), index: 0, path: self.path.clone() })
            }
            Value::Map(entries) | Value::Object(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                pending: None,
                path: self.path.clone(),
                is_object: matches!(self.inner(), Value::Object(_)),
            }),
            Value::Dynamic(..) => unreachable!("inner() unwraps dynamic values"),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.inner() {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, BridgeError> {
        if name == KNOWN_MARKER && matches!(self.inner(), Value::Unknown) {
            return visitor.visit_unit();
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.inner() {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Unknown => self.fail("value is not yet known"),
            other => self.fail(format!("expected a bool, got {other:?}")),
        }
    }

    de_int!(deserialize_i8, visit_i8, i8);
    de_int!(deserialize_i16, visit_i16, i16);
    de_int!(deserialize_i32, visit_i32, i32);
    de_int!(deserialize_i64, visit_i64, i64);
    de_int!(deserialize_u8, visit_u8, u8);
    de_int!(deserialize_u16, visit_u16, u16);
    de_int!(deserialize_u32, visit_u32, u32);
    de_int!(deserialize_u64, visit_u64, u64);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.inner() {
            Value::Number(n) => match n.as_f64() {
                Some(f) => visitor.visit_f64(f),
                None => self.fail(format!("number {n:?} does not fit a float")),
            },
            Value::Unknown => self.fail("value is not yet known"),
            other => self.fail(format!("expected a number, got {other:?}")),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        match self.inner() {
            Value::String(s) => visitor.visit_str(s),
            Value::Unknown => self.fail("value is not yet known"),
            other => self.fail(format!("expected a string, got {other:?}")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BridgeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, BridgeError> {
        match self.inner() {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Unknown => self.fail("value is not yet known"),
            other => self.fail(format!("expected one of the allowed strings, got {other:?}")),
        }
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Value>,
    index: i64,
    path: AttributePath,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = BridgeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, BridgeError> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(self.index);
        self.index += 1;
        seed.deserialize(ValueDe { value, path: path.clone() }).map(Some).map_err(|e| with_path(e, path))
    }
}

struct MapDe<'a> {
    entries: std::collections::btree_map::Iter<'a, String, Value>,
    pending: Option<(&'a String, &'a Value)>,
    path: AttributePath,
    is_object: bool,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = BridgeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, BridgeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((k, v));
        seed.deserialize(k.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, BridgeError> {
        let (k, value) = self.pending.take().expect("value requested before key");
        let path = if self.is_object { self.path.attr(k) } else { self.path.key(k) };
        seed.deserialize(ValueDe { value, path: path.clone() }).map_err(|e| with_path(e, path))
    }
}

/// Errors raised by serde itself (missing field, unknown variant) carry no path; give them the current one.
fn with_path(mut e: BridgeError, path: AttributePath) -> BridgeError {
    if e.path.is_root() {
        e.path = path;
    }
    e
}

struct ValueSer;

macro_rules! ser_int {
    ($method:ident, $t:ty) => {
        fn $method(self, v: $t) -> Result<Value, BridgeError> {
            Ok(Value::Number(Number::Int(v as i64)))
        }
    };
}

impl ser::Serializer for ValueSer {
    type Ok = Value;
    type Error = BridgeError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = ser::Impossible<Value, BridgeError>;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = ser::Impossible<Value, BridgeError>;

    fn serialize_bool(self, v: bool) -> Result<Value, BridgeError> {
        Ok(Value::Bool(v))
    }
    ser_int!(serialize_i8, i8);
    ser_int!(serialize_i16, i16);
    ser_int!(serialize_i32, i32);
    ser_int!(serialize_i64, i64);
    ser_int!(serialize_u8, u8);
    ser_int!(serialize_u16, u16);
    ser_int!(serialize_u32, u32);
    fn serialize_u64(self, v: u64) -> Result<Value, BridgeError> {
        Ok(Value::Number(i64::try_from(v).map(Number::Int).unwrap_or_else(|_| Number::Big(v.to_string()))))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, BridgeError> {
        self.serialize_f64(v as f64)
    }
    fn serialize_f64(self, v: f64) -> Result<Value, BridgeError> {
        Ok(Value::Number(Number::Float(v)))
    }
    fn serialize_char(self, v: char) -> Result<Value, BridgeError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, BridgeError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<Value, BridgeError> {
        Err(ser::Error::custom("bytes have no Terraform type; encode them as a string"))
    }
    fn serialize_none(self) -> Result<Value, BridgeError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, BridgeError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, BridgeError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, BridgeError> {
        Ok(if name == KNOWN_MARKER { Value::Unknown } else { Value::Null })
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, BridgeError> {
        Ok(Value::String(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, v: &T) -> Result<Value, BridgeError> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Value, BridgeError> {
        Err(ser::Error::custom("enums with data have no Terraform type"))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, BridgeError> {
        Ok(SeqSer(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, BridgeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSer, BridgeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, BridgeError> {
        Err(ser::Error::custom("enums with data have no Terraform type"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer, BridgeError> {
        Ok(MapSer { entries: BTreeMap::new(), key: None, is_object: false })
    }
    fn serialize_struct(self, _: &'static str, _len: usize) -> Result<MapSer, BridgeError> {
        Ok(MapSer { entries: BTreeMap::new(), key: None, is_object: true })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, BridgeError> {
        Err(ser::Error::custom("enums with data have no Terraform type"))
    }
}

struct SeqSer(Vec<Value>);

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = BridgeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BridgeError> {
        self.0.push(v.serialize(ValueSer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = BridgeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BridgeError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Tuple(self.0))
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = BridgeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BridgeError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Tuple(self.0))
    }
}

struct MapSer {
    entries: BTreeMap<String, Value>,
    key: Option<String>,
    is_object: bool,
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = BridgeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), BridgeError> {
        match key.serialize(ValueSer)? {
            Value::String(s) => {
                self.key = Some(s);
                Ok(())
            }
            _ => Err(ser::Error::custom("map keys must be strings")),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), BridgeError> {
        let key = self.key.take().expect("value serialised before key");
        self.entries.insert(key, v.serialize(ValueSer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, BridgeError> {
        Ok(if self.is_object { Value::Object(self.entries) } else { Value::Map(self.entries) })
    }
}

impl ser::SerializeStruct for MapSer {
    type Ok = Value;
    type Error = BridgeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), BridgeError> {
        self.entries.insert(key.to_string(), v.serialize(ValueSer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, BridgeError> {
        Ok(Value::Object(self.entries))
    }
}

#[cfg(test)]
mod tests {
    use super::super::known::Known;
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rule {
        name: String,
        ports: Vec<u16>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Config {
        domains: Vec<String>,
        description: Option<String>,
        id: Known<String>,
        tags: BTreeMap<String, String>,
        rules: Vec<Rule>,
        enabled: bool,
        mode: Mode,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        Enforce,
        Audit,
    }

    #[test]
    fn structs_round_trip_with_unknowns_nulls_and_nesting() {
        let config = Config {
            domains: vec!["a.example.com".into()],
            description: None,
            id: Known::Unknown,
            tags: [("env".to_string(), "prod".to_string())].into_iter().collect(),
            rules: vec![Rule { name: "r".into(), ports: vec![443] }],
            enabled: true,
            mode: Mode::Audit,
        };
        let value = to_value(&config).unwrap();
        assert_eq!(value.attr("id"), Some(&Value::Unknown));
        assert_eq!(value.attr("description"), Some(&Value::Null));
        assert_eq!(value.attr("mode"), Some(&Value::String("audit".into())));
        let back: Config = from_value(&value).unwrap();
        assert_eq!(back, config);
        // Outside the bridge, Known is transparent.
        let json = serde_json::to_value(Known::Value("x".to_string())).unwrap();
        assert_eq!(json, serde_json::json!("x"));
    }

    #[test]
    fn type_errors_name_the_attribute_path() {
        let mut value = to_value(&Config {
            domains: vec![],
            description: None,
            id: Known::Value("i".into()),
            tags: BTreeMap::new(),
            rules: vec![Rule { name: "r".into(), ports: vec![1] }],
            enabled: false,
            mode: Mode::Enforce,
        })
        .unwrap();
        if let Value::Object(m) = &mut value {
            m.insert(
                "rules".into(),
                Value::List(vec![Value::Object(
                    [("name".to_string(), Value::Bool(true)), ("ports".to_string(), Value::List(vec![]))]
                        .into_iter()
                        .collect(),
                )]),
            );
        }
        let e = from_value::<Config>(&value).unwrap_err();
        assert_eq!(e.path.to_string(), "rules[0].name");
        // An unknown where the struct cannot hold one says so.
        if let Value::Object(m) = &mut value {
            m.insert("enabled".into(), Value::Unknown);
        }
        let e = from_value::<Config>(&value).unwrap_err();
        assert!(e.message.contains("not yet known") || e.path.to_string().starts_with("rules"), "{e}");
    }
}
