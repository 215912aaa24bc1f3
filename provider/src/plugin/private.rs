//! Private state: what a resource must remember about its object without showing it as an attribute, such
//! as the route target that was there before the resource replaced it.
//!
//! Terraform keeps these bytes beside the object's state, opaque to the user and to plan output, and hands
//! them back on every later call for the same object (plan, apply, refresh); a failed apply keeps the prior
//! bytes. Resources never see the bytes: they read and write typed entries ([`PrivateEntry`]), each under its
//! own key and with its own version, so one resource can keep several and change their shape over releases.
//! On the wire it is one JSON object, `{"<key>": {"version": N, "value": ...}}`; no entry means no bytes.
//! Private state is stored in the state file in plain text: never put a secret in it.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::diag::Diagnostic;

/// One typed entry of private state.
pub trait PrivateEntry: Serialize + DeserializeOwned {
    /// The key the entry is stored under; stable across releases.
    const KEY: &'static str;
    /// The version of the entry's shape. Raise it when the shape changes and read older ones in
    /// [`PrivateEntry::upgrade`].
    const VERSION: u32;

    /// Reads an entry written at an older `version`. The default refuses, naming the entry and versions.
    fn upgrade(version: u32, value: serde_json::Value) -> Result<Self, String> {
        let _ = value;
        Err(format!(
            "private state entry {:?} was written at version {version}, and version {} has no upgrade from it",
            Self::KEY,
            Self::VERSION
        ))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Stored {
    version: u32,
    value: serde_json::Value,
}

/// The private state of one object: typed entries by key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Private {
    entries: BTreeMap<String, Stored>,
}

fn corrupt(detail: String) -> Diagnostic {
    Diagnostic::error(
        "Unreadable private state",
        format!(
            "{detail}. The object's private state was not written by this provider or was edited; remove the \
             object from state with `terraform state rm` and import it again."
        ),
    )
}

impl Private {
    /// Decodes the bytes Terraform sent; empty bytes are an empty private state.
    pub fn from_bytes(bytes: &[u8]) -> Result<Private, Diagnostic> {
        if bytes.is_empty() {
            return Ok(Private::default());
        }
        let entries =
            serde_json::from_slice(bytes).map_err(|e| corrupt(format!("private state is not valid JSON ({e})")))?;
        Ok(Private { entries })
    }

    /// The bytes to hand back to Terraform; an empty private state is no bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&self.entries).expect("JSON values always encode")
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of type `E`, if one is stored; older versions go through [`PrivateEntry::upgrade`].
    pub fn get<E: PrivateEntry>(&self) -> Result<Option<E>, Diagnostic> {
        let Some(stored) = self.entries.get(E::KEY) else { return Ok(None) };
        let entry = match stored.version {
            v if v == E::VERSION => serde_json::from_value(stored.value.clone())
                .map_err(|e| corrupt(format!("private state entry {:?} does not decode ({e})", E::KEY)))?,
            v if v > E::VERSION => {
                return Err(Diagnostic::error(
                    "Private state from a newer provider",
                    format!(
                        "Private state entry {:?} was written at version {v}, newer than this provider's {}; \
                         upgrade the provider.",
                        E::KEY,
                        E::VERSION
                    ),
                ))
            }
            v => E::upgrade(v, stored.value.clone()).map_err(|e| corrupt(e.to_string()))?,
        };
        Ok(Some(entry))
    }

    /// Stores `entry` at the current version, replacing any earlier one.
    pub fn set<E: PrivateEntry>(&mut self, entry: &E) -> Result<(), Diagnostic> {
        let value = serde_json::to_value(entry).map_err(|e| {
            Diagnostic::error(
                "Private state could not be written",
                format!("private state entry {:?} does not encode as JSON: {e}", E::KEY),
            )
        })?;
        self.entries.insert(E::KEY.to_string(), Stored { version: E::VERSION, value });
        Ok(())
    }

    /// Removes the entry of type `E`; true if there was one.
    pub fn remove<E: PrivateEntry>(&mut self) -> bool {
        self.entries.remove(E::KEY).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Before {
        target: String,
        kind: String,
    }

    impl PrivateEntry for Before {
        const KEY: &'static str = "before";
        const VERSION: u32 = 2;

        fn upgrade(version: u32, value: serde_json::Value) -> Result<Self, String> {
            match version {
                // Version 1 held the target alone; every target then was an internet gateway.
                1 => Ok(Before {
                    target: value.as_str().ok_or("version 1 is a string")?.to_string(),
                    kind: "igw".into(),
                }),
                _ => Err(format!("no upgrade from version {version}")),
            }
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Other(u32);

    impl PrivateEntry for Other {
        const KEY: &'static str = "other";
        const VERSION: u32 = 1;
    }

    #[test]
    fn entries_round_trip_through_bytes_independently() {
        let mut p = Private::default();
        assert!(p.to_bytes().is_empty(), "no entry, no bytes");
        p.set(&Before { target: "igw-1".into(), kind: "igw".into() }).unwrap();
        p.set(&Other(7)).unwrap();
        let back = Private::from_bytes(&p.to_bytes()).unwrap();
        assert_eq!(back.get::<Before>().unwrap(), Some(Before { target: "igw-1".into(), kind: "igw".into() }));
        assert_eq!(back.get::<Other>().unwrap(), Some(Other(7)));
        let mut back = back;
        assert!(back.remove::<Other>());
        assert_eq!(back.get::<Other>().unwrap(), None);
        assert!(Private::from_bytes(b"").unwrap().is_empty());
    }

    #[test]
    fn older_versions_upgrade_newer_and_corrupt_ones_are_refused() {
        let old = Private::from_bytes(br#"{"before":{"version":1,"value":"igw-9"}}"#).unwrap();
        assert_eq!(old.get::<Before>().unwrap(), Some(Before { target: "igw-9".into(), kind: "igw".into() }));

        let newer = Private::from_bytes(br#"{"before":{"version":3,"value":{}}}"#).unwrap();
        let e = newer.get::<Before>().unwrap_err();
        assert!(e.detail.contains("version 3") && e.detail.contains("upgrade the provider"), "{e:?}");

        let no_upgrade = Private::from_bytes(br#"{"other":{"version":0,"value":1}}"#).unwrap();
        assert!(no_upgrade.get::<Other>().unwrap_err().detail.contains("has no upgrade"));

        let wrong_shape = Private::from_bytes(br#"{"before":{"version":2,"value":"x"}}"#).unwrap();
        assert!(wrong_shape.get::<Before>().unwrap_err().detail.contains("does not decode"));

        assert!(Private::from_bytes(b"not json").unwrap_err().detail.contains("terraform state rm"));
    }
}
