//! Dynamic values as Terraform sends them, and their msgpack and JSON encodings.
//!
//! A [`Value`] is a tree that may hold nulls and unknowns anywhere. Decoding is driven by the [`Type`] from the
//! schema (msgpack alone cannot tell a list from a set, or carry a `dynamic` value's type). Encoding follows
//! cty's conventions: unknown is the msgpack extension 0, numbers are integers when whole, and `dynamic`
//! values travel as `[type JSON, value]`. Resource code never sees this module's wire forms: the serde bridge
//! turns values into typed structs.

use std::collections::BTreeMap;

use super::path::AttributePath;
use super::types::Type;

/// A number as Terraform's msgpack carries it.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// Too large or too precise for the above, kept as its decimal text.
    Big(String),
}

impl Number {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) => Some(*f),
            Number::Big(s) => s.parse().ok(),
        }
    }

    fn parse(text: &str) -> Option<Number> {
        if let Ok(i) = text.parse::<i64>() {
            return Some(Number::Int(i));
        }
        let f: f64 = text.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        if f.to_string() == text {
            Some(Number::Float(f))
        } else {
            Some(Number::Big(text.to_string()))
        }
    }
}

/// A Terraform value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    /// Not known until apply. Refinements Terraform may attach are not kept.
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Tuple(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    /// A value of a `dynamic` attribute, with the concrete type it was sent with.
    Dynamic(Type, Box<Value>),
}

/// Why a value could not be decoded or encoded, and where.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{path}: {message}")]
pub struct CodecError {
    pub path: AttributePath,
    pub message: String,
}

fn err<T>(path: &AttributePath, message: impl Into<String>) -> Result<T, CodecError> {
    Err(CodecError { path: path.clone(), message: message.into() })
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True when this value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v.iter().any(Value::contains_unknown),
            Value::Map(m) | Value::Object(m) => m.values().any(Value::contains_unknown),
            Value::Dynamic(_, v) => v.contains_unknown(),
            _ => false,
        }
    }

    /// True when the value at `path`, or one on the way to it, is unknown: an error found there may go away
    /// once the value is known.
    pub fn unknown_along(&self, path: &AttributePath) -> bool {
        use super::path::Step;
        let mut here = self;
        for step in &path.0 {
            if matches!(here, Value::Unknown) {
                return true;
            }
            let next = match (step, here) {
                (Step::Attr(name), Value::Object(m)) | (Step::Key(name), Value::Map(m)) => m.get(name),
                (Step::Index(i), Value::List(v) | Value::Tuple(v) | Value::Set(v)) => {
                    usize::try_from(*i).ok().and_then(|i| v.get(i))
                }
                (_, Value::Dynamic(_, inner)) => Some(inner.as_ref()),
                _ => None,
            };
            match next {
                Some(v) => here = v,
                None => return false,
            }
        }
        matches!(here, Value::Unknown)
    }

    /// The attribute `name` of an object value, if present.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.get(name),
            _ => None,
        }
    }

    // ----- msgpack -----

    /// Encodes as Terraform's msgpack for a value of type `ty`.
    pub fn to_msgpack(&self, ty: &Type) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(64);
        self.write_msgpack(ty, &mut out, &AttributePath::root())?;
        Ok(out)
    }

    fn write_msgpack(&self, ty: &Type, out: &mut Vec<u8>, path: &AttributePath) -> Result<(), CodecError> {
        use rmp::encode as e;
        match (self, ty) {
            (Value::Unknown, _) => {
                out.extend_from_slice(&[0xd4, 0, 0]);
                Ok(())
            }
            (Value::Null, _) => {
                written(e::write_nil(out));
                Ok(())
            }
            (Value::Dynamic(inner_ty, inner), Type::Dynamic) => {
                if matches!(**inner, Value::Unknown) {
                    out.extend_from_slice(&[0xd4, 0, 0]);
                    return Ok(());
                }
                written(e::write_array_len(out, 2));
                written(e::write_bin(out, &inner_ty.to_json_bytes()));
                inner.write_msgpack(inner_ty, out, path)
            }
            (v, Type::Dynamic) => {
                let inferred = v.infer_type();
                Value::Dynamic(inferred, Box::new(v.clone())).write_msgpack(ty, out, path)
            }
            (Value::Bool(b), Type::Bool) => {
                written(e::write_bool(out, *b));
                Ok(())
            }
            (Value::Number(n), Type::Number) => match n {
                Number::Int(i) => {
                    written(e::write_sint(out, *i));
                    Ok(())
                }
                Number::Float(f) => {
                    written(e::write_f64(out, *f));
                    Ok(())
                }
                Number::Big(s) => {
                    written(e::write_str(out, s));
                    Ok(())
                }
            },
            (Value::String(s), Type::String) => {
                written(e::write_str(out, s));
                Ok(())
            }
            (Value::List(items) | Value::Set(items), Type::List(et) | Type::Set(et)) => {
                written(e::write_array_len(out, items.len() as u32));
                for (i, item) in items.iter().enumerate() {
                    item.write_msgpack(et, out, &path.index(i as i64))?;
                }
                Ok(())
            }
            (Value::Tuple(items) | Value::List(items), Type::Tuple(types)) => {
                if items.len() != types.len() {
                    return err(path, format!("tuple needs {} elements, got {}", types.len(), items.len()));
                }
                written(e::write_array_len(out, items.len() as u32));
                for (i, (item, t)) in items.iter().zip(types).enumerate() {
                    item.write_msgpack(t, out, &path.index(i as i64))?;
                }
                Ok(())
            }
            (Value::Map(entries) | Value::Object(entries), Type::Map(et)) => {
                written(e::write_map_len(out, entries.len() as u32));
                for (k, v) in entries {
                    written(e::write_str(out, k));
                    v.write_msgpack(et, out, &path.key(k))?;
                }
                Ok(())
            }
            (Value::Object(attrs) | Value::Map(attrs), Type::Object(types)) => {
                if let Some(extra) = attrs.keys().find(|k| !types.contains_key(*k)) {
                    return err(path, format!("unexpected attribute {extra:?}"));
                }
                written(e::write_map_len(out, types.len() as u32));
                for (name, t) in types {
                    written(e::write_str(out, name));
                    attrs.get(name).unwrap_or(&Value::Null).write_msgpack(t, out, &path.attr(name))?;
                }
                Ok(())
            }
            (v, t) => err(path, format!("a {} value cannot be encoded as {}", v.kind(), t.friendly())),
        }
    }

    /// Decodes Terraform's msgpack for a value of type `ty`.
    pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
        let mut reader = MsgpackReader { bytes, pos: 0 };
        let value = reader.read(ty, &AttributePath::root())?;
        if reader.pos != bytes.len() {
            return err(&AttributePath::root(), "trailing bytes after the value");
        }
        Ok(value)
    }

    // ----- JSON -----

    /// Decodes Terraform's JSON encoding (used for stored state) for a value of type `ty`.
    pub fn from_json(json: &serde_json::Value, ty: &Type) -> Result<Value, CodecError> {
        Self::from_json_at(json, ty, &AttributePath::root())
    }

    fn from_json_at(json: &serde_json::Value, ty: &Type, path: &AttributePath) -> Result<Value, CodecError> {
        use serde_json::Value as J;
        Ok(match (json, ty) {
            (J::Null, _) => Value::Null,
            (j, Type::Dynamic) => {
                let o = j.as_object().filter(|o| o.contains_key("type") && o.contains_key("value"));
                let Some(o) = o else {
                    return err(path, "a dynamic value must be {\"value\":…,\"type\":…}");
                };
                let inner_ty =
                    Type::from_json(&o["type"]).map_err(|m| CodecError { path: path.clone(), message: m })?;
                Value::Dynamic(inner_ty.clone(), Box::new(Self::from_json_at(&o["value"], &inner_ty, path)?))
            }
            (J::Bool(b), Type::Bool) => Value::Bool(*b),
            (J::String(s), Type::Bool) if s == "true" || s == "false" => Value::Bool(s == "true"),
            (J::Number(n), Type::Number) => {
                Value::Number(Number::parse(&n.to_string()).unwrap_or(Number::Big(n.to_string())))
            }
            (J::String(s), Type::Number) => match Number::parse(s) {
                Some(n) => Value::Number(n),
                None => return err(path, format!("{s:?} is not a number")),
            },
            (J::String(s), Type::String) => Value::String(s.clone()),
            (J::Number(n), Type::String) => Value::String(n.to_string()),
            (J::Bool(b), Type::String) => Value::String(b.to_string()),
            (J::Array(items), Type::List(et)) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, j)| Self::from_json_at(j, et, &path.index(i as i64)))
                    .collect::<Result<_, _>>()?,
            ),
            (J::Array(items), Type::Set(et)) => Value::Set(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, j)| Self::from_json_at(j, et, &path.index(i as i64)))
                    .collect::<Result<_, _>>()?,
            ),
            (J::Array(items), Type::Tuple(types)) if items.len() == types.len() => Value::Tuple(
                items
                    .iter()
                    .zip(types)
                    .enumerate()
                    .map(|(i, (j, t))| Self::from_json_at(j, t, &path.index(i as i64)))
                    .collect::<Result<_, _>>()?,
            ),
            (J::Object(entries), Type::Map(et)) => Value::Map(
                entries
                    .iter()
                    .map(|(k, j)| Ok((k.clone(), Self::from_json_at(j, et, &path.key(k))?)))
                    .collect::<Result<_, _>>()?,
            ),
            (J::Object(entries), Type::Object(types)) => {
                if let Some(extra) = entries.keys().find(|k| !types.contains_key(*k)) {
                    return err(path, format!("unsupported attribute {extra:?}"));
                }
                Value::Object(
                    types
                        .iter()
                        .map(|(name, t)| {
                            let v = match entries.get(name) {
                                Some(j) => Self::from_json_at(j, t, &path.attr(name))?,
                                None => Value::Null,
                            };
                            Ok((name.clone(), v))
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            (j, t) => return err(path, format!("JSON {j} is not a {}", t.friendly())),
        })
    }

    /// Encodes as Terraform's JSON. Unknown values cannot be written as JSON.
    pub fn to_json(&self, ty: &Type) -> Result<serde_json::Value, CodecError> {
        self.to_json_at(ty, &AttributePath::root())
    }

    fn to_json_at(&self, ty: &Type, path: &AttributePath) -> Result<serde_json::Value, CodecError> {
        use serde_json::Value as J;
        Ok(match (self, ty) {
            (Value::Unknown, _) => return err(path, "unknown values cannot be encoded as JSON"),
            (Value::Null, _) => J::Null,
            (Value::Dynamic(t, v), Type::Dynamic) => {
                serde_json::json!({"value": v.to_json_at(t, path)?, "type": t.to_json()})
            }
            (v, Type::Dynamic) => {
                let t = v.infer_type();
                serde_json::json!({"value": v.to_json_at(&t, path)?, "type": t.to_json()})
            }
            (Value::Bool(b), Type::Bool) => J::Bool(*b),
            (Value::Number(n), Type::Number) => match n {
                Number::Int(i) => J::from(*i),
                Number::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
                Number::Big(s) => serde_json::from_str(s).unwrap_or_else(|_| J::String(s.clone())),
            },
            (Value::String(s), Type::String) => J::String(s.clone()),
            (Value::List(items) | Value::Set(items), Type::List(et) | Type::Set(et)) => J::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v.to_json_at(et, &path.index(i as i64)))
                    .collect::<Result<_, _>>()?,
            ),
            (Value::Tuple(items) | Value::List(items), Type::Tuple(types)) => J::Array(
                items
                    .iter()
                    .zip(types)
                    .enumerate()
                    .map(|(i, (v, t))| v.to_json_at(t, &path.index(i as i64)))
                    .collect::<Result<_, _>>()?,
            ),
            (Value::Map(m) | Value::Object(m), Type::Map(et)) => {
                J::Object(m.iter().map(|(k, v)| Ok((k.clone(), v.to_json_at(et, &path.key(k))?))).collect::<Result<
                    _,
                    CodecError,
                >>(
                )?)
            }
            (Value::Object(m) | Value::Map(m), Type::Object(types)) => J::Object(
                types
                    .iter()
                    .map(|(k, t)| Ok((k.clone(), m.get(k).unwrap_or(&Value::Null).to_json_at(t, &path.attr(k))?)))
                    .collect::<Result<_, CodecError>>()?,
            ),
            (v, t) => return err(path, format!("a {} value cannot be encoded as {}", v.kind(), t.friendly())),
        })
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unknown => "unknown",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Tuple(_) => "tuple",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
            Value::Dynamic(..) => "dynamic",
        }
    }

    /// The type a value would have if written in configuration, for values bound for `dynamic` attributes.
    pub fn infer_type(&self) -> Type {
        match self {
            Value::Null | Value::Unknown => Type::Dynamic,
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(v) => Type::list(v.first().map(Value::infer_type).unwrap_or(Type::Dynamic)),
            Value::Set(v) => Type::set(v.first().map(Value::infer_type).unwrap_or(Type::Dynamic)),
            Value::Tuple(v) => Type::Tuple(v.iter().map(Value::infer_type).collect()),
            Value::Map(m) => Type::map(m.values().next().map(Value::infer_type).unwrap_or(Type::Dynamic)),
            Value::Object(m) => Type::Object(m.iter().map(|(k, v)| (k.clone(), v.infer_type())).collect()),
            Value::Dynamic(t, _) => t.clone(),
        }
    }
}

/// Unwraps a msgpack write into a `Vec<u8>`, which cannot fail.
fn written<T, E: std::fmt::Debug>(result: Result<T, E>) -> T {
    result.expect("writing msgpack into a Vec<u8> cannot fail")
}

/// A cursor over msgpack bytes, decoding by type.
struct MsgpackReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> MsgpackReader<'a> {
    fn peek(&self, path: &AttributePath) -> Result<u8, CodecError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| CodecError { path: path.clone(), message: "unexpected end of msgpack".into() })
    }

    fn take(&mut self, n: usize, path: &AttributePath) -> Result<&'a [u8], CodecError> {
        if self.pos + n > self.bytes.len() {
            return err(path, "unexpected end of msgpack");
        }
        let slice = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    fn be(&mut self, n: usize, path: &AttributePath) -> Result<u64, CodecError> {
        Ok(self.take(n, path)?.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64))
    }

    /// Reads an extension header if the next value is one, returning (type, length).
    fn ext_header(&mut self, path: &AttributePath) -> Result<Option<(i8, usize)>, CodecError> {
        let marker = self.peek(path)?;
        let (len, header) = match marker {
            0xd4 => (1, 1),
            0xd5 => (2, 1),
            0xd6 => (4, 1),
            0xd7 => (8, 1),
            0xd8 => (16, 1),
            0xc7 => (0, 2),
            0xc8 => (0, 3),
            0xc9 => (0, 5),
            _ => return Ok(None),
        };
        self.pos += 1;
        let len = match header {
            1 => len,
            2 => self.be(1, path)? as usize,
            3 => self.be(2, path)? as usize,
            _ => self.be(4, path)? as usize,
        };
        let ext_type = self.take(1, path)?[0] as i8;
        Ok(Some((ext_type, len)))
    }

    fn read(&mut self, ty: &Type, path: &AttributePath) -> Result<Value, CodecError> {
        let marker = self.peek(path)?;
        if marker == 0xc0 {
            self.pos += 1;
            return Ok(Value::Null);
        }
        let start = self.pos;
        if let Some((ext_type, len)) = self.ext_header(path)? {
            self.take(len, path)?;
            // Extension 0 is an unknown value; 12 is an unknown with refinements (prefix, range, not null).
            return match ext_type {
                0 | 12 => Ok(Value::Unknown),
                other => {
                    self.pos = start;
                    err(path, format!("unsupported msgpack extension type {other}"))
                }
            };
        }
        match ty {
            Type::Dynamic => {
                let n = self.array_len(path)?;
                if n != 2 {
                    return err(path, "a dynamic value must be a [type, value] pair");
                }
                let type_json = self.read_str_or_bin(path)?;
                let json: serde_json::Value = serde_json::from_slice(&type_json)
                    .map_err(|e| CodecError { path: path.clone(), message: e.to_string() })?;
                let inner_ty = Type::from_json(&json).map_err(|m| CodecError { path: path.clone(), message: m })?;
                let inner = self.read(&inner_ty, path)?;
                Ok(Value::Dynamic(inner_ty, Box::new(inner)))
            }
            Type::Bool => match marker {
                0xc2 => {
                    self.pos += 1;
                    Ok(Value::Bool(false))
                }
                0xc3 => {
                    self.pos += 1;
                    Ok(Value::Bool(true))
                }
                _ => err(path, "expected a bool"),
            },
            Type::Number => self.read_number(path).map(Value::Number),
            Type::String => {
                let bytes = self.read_str_or_bin(path)?;
                String::from_utf8(bytes)
                    .map(Value::String)
                    .map_err(|_| CodecError { path: path.clone(), message: "string is not UTF-8".into() })
            }
            Type::List(et) | Type::Set(et) => {
                let n = self.array_len(path)?;
                let mut items = Vec::with_capacity(n.min(4096));
                for i in 0..n {
                    items.push(self.read(et, &path.index(i as i64))?);
                }
                Ok(if matches!(ty, Type::Set(_)) { Value::Set(items) } else { Value::List(items) })
            }
            Type::Tuple(types) => {
                let n = self.array_len(path)?;
                if n != types.len() {
                    return err(path, format!("tuple needs {} elements, got {n}", types.len()));
                }
                let items = types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| self.read(t, &path.index(i as i64)))
                    .collect::<Result<_, _>>()?;
                Ok(Value::Tuple(items))
            }
            Type::Map(et) => {
                let n = self.map_len(path)?;
                let mut entries = BTreeMap::new();
                for _ in 0..n {
                    let key = String::from_utf8(self.read_str_or_bin(path)?)
                        .map_err(|_| CodecError { path: path.clone(), message: "map key is not UTF-8".into() })?;
                    let v = self.read(et, &path.key(&key))?;
                    entries.insert(key, v);
                }
                Ok(Value::Map(entries))
            }
            Type::Object(types) => {
                let n = self.map_len(path)?;
                let mut attrs = BTreeMap::new();
                for _ in 0..n {
                    let key = String::from_utf8(self.read_str_or_bin(path)?).map_err(|_| CodecError {
                        path: path.clone(),
                        message: "attribute name is not UTF-8".into(),
                    })?;
                    let Some(t) = types.get(&key) else {
                        return err(path, format!("unsupported attribute {key:?}"));
                    };
                    let v = self.read(t, &path.attr(&key))?;
                    attrs.insert(key, v);
                }
                for name in types.keys() {
                    attrs.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(attrs))
            }
        }
    }

    fn array_len(&mut self, path: &AttributePath) -> Result<usize, CodecError> {
        let m = self.peek(path)?;
        self.pos += 1;
        match m {
            0x90..=0x9f => Ok((m & 0x0f) as usize),
            0xdc => Ok(self.be(2, path)? as usize),
            0xdd => Ok(self.be(4, path)? as usize),
            _ => {
                self.pos -= 1;
                err(path, "expected a msgpack array")
            }
        }
    }

    fn map_len(&mut self, path: &AttributePath) -> Result<usize, CodecError> {
        let m = self.peek(path)?;
        self.pos += 1;
        match m {
            0x80..=0x8f => Ok((m & 0x0f) as usize),
            0xde => Ok(self.be(2, path)? as usize),
            0xdf => Ok(self.be(4, path)? as usize),
            _ => {
                self.pos -= 1;
                err(path, "expected a msgpack map")
            }
        }
    }

    fn read_str_or_bin(&mut self, path: &AttributePath) -> Result<Vec<u8>, CodecError> {
        let m = self.peek(path)?;
        self.pos += 1;
        let len = match m {
            0xa0..=0xbf => (m & 0x1f) as usize,
            0xd9 | 0xc4 => self.be(1, path)? as usize,
            0xda | 0xc5 => self.be(2, path)? as usize,
            0xdb | 0xc6 => self.be(4, path)? as usize,
            _ => {
                self.pos -= 1;
                return err(path, "expected a string");
            }
        };
        Ok(self.take(len, path)?.to_vec())
    }

    fn read_number(&mut self, path: &AttributePath) -> Result<Number, CodecError> {
        let m = self.peek(path)?;
        self.pos += 1;
        let n = match m {
            0x00..=0x7f => Number::Int(m as i64),
            0xe0..=0xff => Number::Int((m as i8) as i64),
            0xcc => Number::Int(self.be(1, path)? as i64),
            0xcd => Number::Int(self.be(2, path)? as i64),
            0xce => Number::Int(self.be(4, path)? as i64),
            0xcf => {
                let u = self.be(8, path)?;
                i64::try_from(u).map(Number::Int).unwrap_or_else(|_| Number::Big(u.to_string()))
            }
            0xd0 => Number::Int(self.be(1, path)? as u8 as i8 as i64),
            0xd1 => Number::Int(self.be(2, path)? as u16 as i16 as i64),
            0xd2 => Number::Int(self.be(4, path)? as u32 as i32 as i64),
            0xd3 => Number::Int(self.be(8, path)? as i64),
            0xca => Number::Float(f32::from_bits(self.be(4, path)? as u32) as f64),
            0xcb => Number::Float(f64::from_bits(self.be(8, path)?)),
            _ => {
                self.pos -= 1;
                let text = String::from_utf8(self.read_str_or_bin(path)?).unwrap_or_default();
                return Number::parse(&text)
                    .ok_or_else(|| CodecError { path: path.clone(), message: format!("{text:?} is not a number") });
            }
        };
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn s(text: &str) -> Value {
        Value::String(text.into())
    }

    /// Every type, with nulls and unknowns in each position, survives msgpack and (when known) JSON.
    #[test]
    fn round_trips_every_type() {
        let nested = Type::Object(
            [("name".to_string(), Type::String), ("ports".to_string(), Type::set(Type::Number))].into_iter().collect(),
        );
        let cases: Vec<(Type, Value)> = vec![
            (Type::Bool, Value::Bool(true)),
            (Type::Bool, Value::Null),
            (Type::Bool, Value::Unknown),
            (Type::Number, Value::Number(Number::Int(0))),
            (Type::Number, Value::Number(Number::Int(-33))),
            (Type::Number, Value::Number(Number::Int(1 << 40))),
            (Type::Number, Value::Number(Number::Int(i64::MIN))),
            (Type::Number, Value::Number(Number::Float(1.5))),
            (Type::Number, Value::Number(Number::Big("123456789012345678901234567890".into()))),
            (Type::String, s("")),
            (Type::String, s("héllo wörld, a longer string of more than thirty-one bytes")),
            (Type::list(Type::String), Value::List(vec![s("a"), Value::Unknown, Value::Null])),
            (Type::set(Type::String), Value::Set(vec![s("a"), s("b")])),
            (
                Type::map(Type::Number),
                Value::Map([("x".to_string(), Value::Number(Number::Int(1)))].into_iter().collect()),
            ),
            (Type::Tuple(vec![Type::String, Type::Bool]), Value::Tuple(vec![s("a"), Value::Bool(false)])),
            (nested.clone(), obj(&[("name", s("n")), ("ports", Value::Set(vec![Value::Number(Number::Int(443))]))])),
            (nested.clone(), obj(&[("name", Value::Unknown), ("ports", Value::Null)])),
            (Type::list(nested.clone()), Value::List(vec![obj(&[("name", s("a")), ("ports", Value::Unknown)])])),
            (Type::Dynamic, Value::Dynamic(Type::list(Type::String), Box::new(Value::List(vec![s("x")])))),
            (Type::Dynamic, Value::Null),
            (Type::Dynamic, Value::Unknown),
            (Type::String, s(&"z".repeat(70_000))),
            (Type::list(Type::Number), Value::List((0..70).map(|i| Value::Number(Number::Int(i * 1000))).collect())),
        ];
        for (ty, value) in cases {
            let bytes = value.to_msgpack(&ty).unwrap();
            assert_eq!(Value::from_msgpack(&bytes, &ty).unwrap(), value, "msgpack {ty:?}");
            // JSON (stored state only) carries numbers at f64 precision; msgpack keeps big ones exactly.
            let big = matches!(value, Value::Number(Number::Big(_)));
            if !value.contains_unknown() && !big {
                let json = value.to_json(&ty).unwrap();
                assert_eq!(Value::from_json(&json, &ty).unwrap(), value, "json {ty:?}");
            }
        }
    }

    #[test]
    fn unknown_is_cty_extension_zero_and_refined_unknowns_decode() {
        assert_eq!(Value::Unknown.to_msgpack(&Type::String).unwrap(), vec![0xd4, 0, 0]);
        // An unknown string refined as "not null" with a known prefix, as newer Terraform sends it.
        let refined = [0xc7, 0x05, 0x0c, 0x82, 0x01, 0xc3, 0x02, 0xa0];
        assert_eq!(Value::from_msgpack(&refined, &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn missing_object_attributes_decode_as_null_and_extra_ones_are_errors() {
        let ty = Type::Object([("a".to_string(), Type::String), ("b".to_string(), Type::Bool)].into_iter().collect());
        // {"a": "x"}
        let bytes = [0x81, 0xa1, b'a', 0xa1, b'x'];
        assert_eq!(Value::from_msgpack(&bytes, &ty).unwrap(), obj(&[("a", s("x")), ("b", Value::Null)]));
        // {"c": true}
        let bytes = [0x81, 0xa1, b'c', 0xc3];
        let e = Value::from_msgpack(&bytes, &ty).unwrap_err();
        assert!(e.message.contains("\"c\""), "{e}");
    }

    #[test]
    fn decode_errors_carry_the_path() {
        let ty = Type::Object([("domains".to_string(), Type::list(Type::String))].into_iter().collect());
        // {"domains": ["ok", true]}
        let bytes = [0x81, 0xa7, b'd', b'o', b'm', b'a', b'i', b'n', b's', 0x92, 0xa2, b'o', b'k', 0xc3];
        let e = Value::from_msgpack(&bytes, &ty).unwrap_err();
        assert_eq!(e.path.to_string(), "domains[1]");
        assert!(Value::from_msgpack(&[0x92, 0xa1], &Type::list(Type::String)).is_err(), "truncated input");
        assert!(Value::from_msgpack(&[0xa1, b'x', 0x00], &Type::String).is_err(), "trailing bytes");
    }

    #[test]
    fn numbers_decode_from_every_msgpack_width() {
        let cases: &[(&[u8], Number)] = &[
            (&[0x05], Number::Int(5)),
            (&[0xff], Number::Int(-1)),
            (&[0xcc, 0xff], Number::Int(255)),
            (&[0xcd, 0x01, 0x00], Number::Int(256)),
            (&[0xd0, 0x80], Number::Int(-128)),
            (&[0xd1, 0xff, 0x00], Number::Int(-256)),
            (&[0xce, 0, 1, 0, 0], Number::Int(65536)),
            (&[0xd2, 0xff, 0xff, 0xff, 0xff], Number::Int(-1)),
            (&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], Number::Big("18446744073709551615".into())),
            (&[0xca, 0x3f, 0xc0, 0, 0], Number::Float(1.5)),
            (&[0xa3, b'1', b'.', b'5'], Number::Float(1.5)),
        ];
        for (bytes, want) in cases {
            assert_eq!(Value::from_msgpack(bytes, &Type::Number).unwrap(), Value::Number(want.clone()), "{bytes:x?}");
        }
    }

    /// A small deterministic generator, so that failures reproduce.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// The decoder meets hostile bytes: random input and mutated valid encodings. It must answer with a value
    /// or an error, never panic, and whatever it accepts must encode again.
    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        let nested = Type::Object(
            [
                ("a".to_string(), Type::list(Type::String)),
                ("b".to_string(), Type::map(Type::Number)),
                ("c".to_string(), Type::Dynamic),
            ]
            .into_iter()
            .collect(),
        );
        let sample = obj(&[
            ("a", Value::List(vec![s("x"), Value::Unknown])),
            ("b", Value::Map([("k".to_string(), Value::Number(Number::Float(2.5)))].into_iter().collect())),
            ("c", Value::Dynamic(Type::String, Box::new(s("d")))),
        ]);
        let valid = sample.to_msgpack(&nested).unwrap();
        let types = [Type::String, Type::Number, Type::list(Type::Bool), Type::Dynamic, nested.clone()];
        let mut state = 0x2545f4914f6cdd1d;
        for round in 0..20_000 {
            let bytes: Vec<u8> = if round % 2 == 0 {
                let len = (xorshift(&mut state) % 24) as usize;
                (0..len).map(|_| xorshift(&mut state) as u8).collect()
            } else {
                let mut b = valid.clone();
                for _ in 0..1 + xorshift(&mut state) % 3 {
                    let i = (xorshift(&mut state) as usize) % b.len();
                    b[i] = xorshift(&mut state) as u8;
                }
                b.truncate(b.len() - (xorshift(&mut state) % 3) as usize);
                b
            };
            let ty = &types[round % types.len()];
            if let Ok(v) = Value::from_msgpack(&bytes, ty) {
                v.to_msgpack(ty).unwrap_or_else(|e| panic!("accepted {bytes:x?} as {v:?} but cannot encode it: {e}"));
            }
        }
    }
}
