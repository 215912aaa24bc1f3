//! `Known<T>`: a typed field that may be unknown at plan time.
//!
//! Terraform plans with values that are not yet known (a computed attribute before apply, a value derived
//! from another resource). A resource declares such a field as `Known<T>`; `Option<Known<T>>` adds null.
//! Through the serde bridge an unknown value becomes `Known::Unknown` and back; with any other serde format
//! (JSON in private state, say) `Known` is transparent.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// The name the serde bridge recognises; no other format gives it meaning.
pub(crate) const KNOWN_MARKER: &str = "$terraform::Known";

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Known<T> {
    #[default]
    Unknown,
    Value(T),
}

impl<T> Known<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Known::Value(v) => Some(v),
            Known::Unknown => None,
        }
    }

    pub fn into_value(self) -> Option<T> {
        match self {
            Known::Value(v) => Some(v),
            Known::Unknown => None,
        }
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Known::Unknown)
    }
}

impl<T> From<T> for Known<T> {
    fn from(v: T) -> Self {
        Known::Value(v)
    }
}

impl<T: Serialize> Serialize for Known<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Known::Value(v) => v.serialize(serializer),
            Known::Unknown => serializer.serialize_unit_struct(KNOWN_MARKER),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Known<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KnownVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for KnownVisitor<T> {
            type Value = Known<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value that may be unknown")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Known::Unknown)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(Known::Value)
            }
        }
        deserializer.deserialize_newtype_struct(KNOWN_MARKER, KnownVisitor(std::marker::PhantomData))
    }
}
